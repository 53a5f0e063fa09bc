"""LLaVA-Med's VQA scorer, re-implemented exactly.

Source: github microsoft/LLaVA-Med @ b9a98a7 ``llava/eval/run_eval.py`` (``evaluate``) with
``llava/eval/eval_metrics/evaluate_metrics.py``, ``utils.py`` and ``glossary.py``; the pre-fix
closed rule is ``run_eval.py`` @ e9972cf. BLEU is NLTK's ``sentence_bleu`` (>= 3.6, no smoothing).

``run_eval.py`` lower-cases and ``normalize_word``-s both strings once, and every
``calculate_*`` helper normalises them *again*::

    gt_value = normalize_word(gt_results[1]['value'].lower())      # (line paraphrased)
    pred_value = normalize_word(pred_item['text'].lower())
    if gt_item['answer_type'] == 'OPEN':
        exact_scores['hit'].append(calculate_exactmatch(pred_value, gt_value))
        f1_score, precision, recall = calculate_f1score(pred_value, gt_value)
        b_score_1 = sentence_bleu(references=[str(gt_value).lower().split()],
                                  hypothesis=str(pred_value).lower().split(), weights=(1, 0, 0, 0))
    elif gt_item['answer_type'] == 'CLOSED':
        if 'yes' in pred_value or 'no' in pred_value:
            if gt_value in pred_value: closed_scores['hit'].append(1)
            else: closed_scores['hit'].append(0)     # <- added by b9a98a7 ("fix closed accuracy")
        else: closed_scores['hit'].append(0)

Every number is a plain mean over the questions it scores (open questions only for all but
"yes/no accuracy"), printed ``x*100`` by ``tabulate`` (format ``g``). So:

- "exact match score" is *not* exact match: distinct reference words found in the prediction
  divided by the prediction's word count (``"left lung" / "left"`` -> 1/1; ``"left left"`` -> 1/2);
- "recall"/"precision"/"f1 score" count a shared word with the *prediction's* multiplicity
  (``tp += candidate_words[word]``): reference ``"left lung"``, prediction ``"left left"`` ->
  tp 2, fn 1, recall 2/3, precision 1;
- closed: a plain substring test after normalisation ("no" is inside "normal", "not", "nodule").
"""
from __future__ import annotations

import math
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence

from pefomed.evaluation.peers.vqa_text import process_digit_article, process_punctuation

SOURCE = "microsoft/LLaVA-Med@b9a98a7:llava/eval/run_eval.py + llava/eval/eval_metrics/"
SOURCE_PREFIX = "microsoft/LLaVA-Med@e9972cf:llava/eval/run_eval.py"


def normalize_word(token: str) -> str:
    """``glossary.normalize_word``: VQA processPunctuation + processDigitArticle, then commas go."""
    return process_digit_article(process_punctuation(token)).replace(",", "")


def _values(prediction: str, reference: str) -> tuple[str, str]:
    """``pred_value``, ``gt_value`` as ``run_eval.evaluate`` computes them."""
    return normalize_word(str(prediction).lower()), normalize_word(str(reference).lower())


def split_sentence(sentence: str, n: int) -> dict[str, int]:
    """``utils.split_sentence``: counts of the n-grams of the lower-cased whitespace split."""
    words: dict[str, int] = defaultdict(int)
    tokens = sentence.lower().strip().split()
    for i in range(len(tokens) - n + 1):
        gram = " ".join(tokens[i:i + n])
        if gram:
            words[gram] += 1
    return words


def calculate_exactmatch(candidate: str, reference: str) -> float:
    """``evaluate_metrics.calculate_exactmatch``: distinct reference words present / prediction words."""
    candidate_words = split_sentence(normalize_word(candidate), 1)
    reference_words = split_sentence(normalize_word(reference), 1)
    count = sum(1 for word in reference_words if word in candidate_words)
    total = sum(candidate_words.values())
    return 0 if total == 0 else count / total


def calculate_f1score(candidate: str, reference: str) -> tuple[float, float, float]:
    """``evaluate_metrics.calculate_f1score`` -> (f1, precision, recall); 0s for an empty side or tp 0."""
    candidate_words = split_sentence(normalize_word(candidate), 1)
    reference_words = split_sentence(normalize_word(reference), 1)
    tp = fp = fn = 0
    for word in set(candidate_words) | set(reference_words):
        if word in candidate_words and word in reference_words:
            tp += candidate_words[word]
        elif word in candidate_words:
            fp += candidate_words[word]
        else:
            fn += reference_words[word]
    if not candidate_words or not reference_words or tp == 0:
        return 0, 0, 0
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return 2 * precision * recall / (precision + recall), precision, recall


def sentence_bleu(reference: list[str], hypothesis: list[str], weights: tuple[float, ...]) -> float:
    """NLTK ``sentence_bleu([reference], hypothesis, weights)`` without smoothing (method0)."""
    numerators, denominators = [], []
    for n in range(1, len(weights) + 1):
        hyp = Counter(tuple(hypothesis[i:i + n]) for i in range(len(hypothesis) - n + 1))
        ref = Counter(tuple(reference[i:i + n]) for i in range(len(reference) - n + 1))
        numerators.append(sum(min(c, ref[g]) for g, c in hyp.items()))
        denominators.append(max(1, sum(hyp.values())))
    if numerators[0] == 0:
        return 0
    c, r = len(hypothesis), len(reference)
    bp = 1 if c > r else (0 if c == 0 else math.exp(1 - r / c))
    p_n = [num / den if num else sys.float_info.min for num, den in zip(numerators, denominators)]
    return bp * math.exp(math.fsum(w * math.log(p) for w, p in zip(weights, p_n)))


# --- per-question scores, one per printed line ------------------------------------------------

def closed_hit(prediction: str, reference: str) -> float:
    """"yes/no accuracy" (b9a98a7): 1 if the prediction mentions yes/no and contains the reference."""
    pred, gt = _values(prediction, reference)
    return float(("yes" in pred or "no" in pred) and gt in pred)


def closed_hit_prefix(prediction: str, reference: str) -> float | None:
    """"yes/no accuracy" before the fix (e9972cf): a miss that mentions yes/no is not counted (None)."""
    pred, gt = _values(prediction, reference)
    if "yes" in pred or "no" in pred:
        return 1.0 if gt in pred else None
    return 0.0


def exact_match_score(prediction: str, reference: str) -> float:
    """"exact match score": :func:`calculate_exactmatch` on the once-normalised values."""
    return calculate_exactmatch(*_values(prediction, reference))


def f1(prediction: str, reference: str) -> float:
    return calculate_f1score(*_values(prediction, reference))[0]


def precision(prediction: str, reference: str) -> float:
    return calculate_f1score(*_values(prediction, reference))[1]


def recall(prediction: str, reference: str) -> float:
    return calculate_f1score(*_values(prediction, reference))[2]


def _bleu(weights: tuple[float, ...]):
    def metric(prediction: str, reference: str) -> float:
        pred, gt = _values(prediction, reference)
        return sentence_bleu(str(gt).lower().split(), str(pred).lower().split(), weights)
    return metric


bleu = _bleu((0.25, 0.25, 0.25, 0.25))
bleu_1 = _bleu((1, 0, 0, 0))
bleu_2 = _bleu((0, 1, 0, 0))
bleu_3 = _bleu((0, 0, 1, 0))


def open_candidates(train_answers: Sequence[tuple[str, str]]) -> list[tuple[str, dict[str, int]]]:
    """The candidate set of "open accuracy": training open answers, normalised, in first-seen order.

    ``run_eval.py`` reads them from ``candidate.json`` (``train_open_answers.json`` in its
    scripts); a tie goes to the first candidate, so the order can matter.
    """
    seen = dict.fromkeys(str(a) for a, kind in train_answers if kind == "open")
    out = []
    for answer in seen:
        norm = normalize_word(answer)
        out.append((norm, split_sentence(norm, 1)))
    return out


def open_accuracy(prediction: str, reference: str, candidates: list[tuple[str, dict[str, int]]]) -> float:
    """"open accuracy": ``calculate_appearance_with_normalization`` -- the candidate most covered
    by the prediction's distinct words (first of equals) must equal the reference."""
    pred, gt = _values(prediction, reference)
    prediction_words = split_sentence(normalize_word(pred), 1)
    best, best_sim = None, -1.0
    for norm, words in candidates:
        sim = 0.0 if not words else sum(1 for w in prediction_words if w in words) / len(words)
        if sim > best_sim:
            best, best_sim = norm, sim
    return float(best == normalize_word(gt))
