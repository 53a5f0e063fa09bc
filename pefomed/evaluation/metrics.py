"""pefomed's own per-item Med-VQA metrics: pure functions of one (prediction, reference) pair -> [0, 1].

Both strings go through pefomed's :func:`normalize_answer` first; tokens are its whitespace split.
An empty reference (no tokens after normalisation) scores 1 only against an empty prediction,
as SQuAD's F1 does. These are robust to formatting but reproduce no paper's numbers: the
peer-exact scorers live in :mod:`pefomed.evaluation.peers`.
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
    correct -- unless it also says the other word anywhere ("yes or no", "yes/no", "no... yes"),
    which is a hedge, not an answer. Other closed answers ("left", "axial") need an exact match.
    """
    ref = normalize_answer(reference)
    pred = normalize_answer(prediction)
    if pred == ref:
        return 1.0
    if ref not in YES_NO:
        return 0.0
    tokens = pred.split()
    other = "no" if ref == "yes" else "yes"
    return float(bool(tokens) and tokens[0] == ref and other not in tokens)


def token_recall(prediction: str, reference: str) -> float:
    """Fraction of reference tokens (with repeats) that appear anywhere in the prediction.

    Not LLaVA-Med's "recall" (``llava-med-recall``): that one normalises differently and counts a
    shared word with the *prediction's* multiplicity (``tp += candidate_words[word]``), so
    "left left" against "left lung" is 2/3 there and 1/2 here.
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

    Brevity penalty ``exp(1 - r/c)`` when the prediction (c tokens) is not longer than the
    reference (r tokens), else 1: NLTK ``sentence_bleu(weights=(1, 0, 0, 0))`` on pefomed's
    tokens, except that two empty answers score 1 here (NLTK: 0). LLaVA-Med's BLEU-1 uses its own
    normalisation and open questions only (``llava-med-bleu-1``).
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
