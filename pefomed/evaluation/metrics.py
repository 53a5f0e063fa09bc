"""Per-item Med-VQA metrics: pure functions of one (prediction, reference) pair -> [0, 1].

Both strings go through :func:`normalize_answer` first; tokens are its whitespace split.
An empty reference (no tokens after normalisation) scores 1 only against an empty prediction,
as SQuAD's F1 does.
"""
from __future__ import annotations

import math
from collections import Counter

from pefomed.evaluation.normalize import answer_tokens, normalize_answer

YES_NO: frozenset[str] = frozenset({"yes", "no"})


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def closed_match(prediction: str, reference: str) -> float:
    """Exact match, and for a yes/no reference also a prediction that *starts* with that word.

    Generative models often answer "yes, there is a mass": when the normalised reference is
    exactly "yes" or "no", a prediction whose first normalised token equals it counts as
    correct. Other closed answers ("left", "axial") need an exact match.
    """
    ref = normalize_answer(reference)
    pred = normalize_answer(prediction)
    if pred == ref:
        return 1.0
    return float(ref in YES_NO and pred.split(" ", 1)[0] == ref)


def reference_in_prediction(prediction: str, reference: str) -> float:
    """LLaVA-Med's closed rule: the normalised reference is a substring of the prediction.

    LLaVA-Med (``llava/eval/run_eval.py``) first requires "yes" or "no" somewhere in the
    prediction, then checks ``gt_value in pred_value`` as plain substrings, so reference "no"
    also matches "not" or "normal". That script drops a miss *with* a yes/no from the
    denominator; here every closed question counts, a miss scoring 0.
    """
    ref = normalize_answer(reference)
    pred = normalize_answer(prediction)
    if "yes" not in pred and "no" not in pred:
        return 0.0
    return float(ref in pred)


def token_recall(prediction: str, reference: str) -> float:
    """Fraction of reference tokens (with repeats) that appear anywhere in the prediction.

    LLaVA-Med's open-question "recall". (Its code counts shared words with the prediction's
    multiplicity, so it differs from this only when the prediction repeats a shared word.)
    """
    ref = answer_tokens(reference)
    pred = set(answer_tokens(prediction))
    if not ref:
        return float(not pred)
    return sum(t in pred for t in ref) / len(ref)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of precision and recall over the clipped token overlap."""
    pred = answer_tokens(prediction)
    ref = answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


def bleu1(prediction: str, reference: str) -> float:
    """Sentence BLEU-1: clipped unigram precision times the brevity penalty.

    Brevity penalty ``exp(1 - r/c)`` when the prediction (c tokens) is shorter than the
    reference (r tokens), else 1; equals NLTK ``sentence_bleu(weights=(1, 0, 0, 0))``.
    """
    pred = answer_tokens(prediction)
    ref = answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    clipped = sum((Counter(pred) & Counter(ref)).values())
    precision = clipped / len(pred)
    c, r = len(pred), len(ref)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * precision
