"""LLaVA-Med run_eval.py (microsoft/LLaVA-Med@b9a98a7): hand-worked pairs, expected values derived by
reading its code (the line that produces each is named in the comment)."""
import math

import pytest

from pefomed.evaluation import Prediction, score_predictions
from pefomed.evaluation.peers import llava_med as L


@pytest.mark.parametrize("raw, expected", [
    ("R.U.Q.", "ruq"),              # periodStrip deletes a period not followed by a digit
    ("3.5 cm.", "3.5 cm"),          # ... and keeps "3.5"
    ("left-sided", "left sided"),   # '-' with no space beside it anywhere -> replaced by a space
    ("left - sided", "left sided"),  # ' -' occurs -> every '-' deleted, split() joins the rest
    ("1,000 mm, left", "1000 mm left"),  # commaStrip matches anywhere -> every punct mark deleted
    ("a,b", "b"),                   # ',' -> ' ', then the article "a" is dropped
    ("The Two kidneys", "2 kidneys"),   # manualMap + articles
    ("none", "0"),
    ("dont", "don't"),              # contractions
    ("caf\u00e9 \u201cyes\u201d", "caf\u00e9 \u201cyes\u201d"),   # no Unicode folding; curly quotes not in punct
    ("Yes: it's 50%", "yes: it's 50%"),  # ':', "'", '%' are not in punct
])
def test_normalize_word(raw, expected):
    assert L.normalize_word(raw.lower()) == expected


def test_period_strip_count_is_32():
    # period_strip.sub("", _token, re.UNICODE): re.UNICODE (32) lands in the count argument
    assert L.normalize_word("." * 40) == "." * 8
    long = "left" + "." * 40
    # run_eval normalises once: pred_value "left........"; calculate_f1score normalises again -> "left"
    assert L.f1(long, "left") == 1.0
    # sentence_bleu gets the once-normalised split: "left........" != "left" -> no match -> 0
    assert L.bleu_1(long, "left") == 0


def test_exact_match_score_is_not_exact_match():
    # calculate_exactmatch: count distinct reference words in the candidate / candidate word count
    assert L.exact_match_score("left", "left lung") == 1.0        # 1 / 1
    assert L.exact_match_score("left left", "left lung") == 0.5   # 1 / 2
    assert L.exact_match_score("lung left", "left lung") == 1.0   # 2 / 2
    assert L.exact_match_score("", "left lung") == 0              # total == 0 -> return 0


def test_f1_counts_the_predictions_repeats():
    # calculate_f1score: tp += candidate_words[word]; fn += reference_words[word] for missing words
    # "left left" vs "left lung": tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 0.8
    assert L.calculate_f1score("left left", "left lung") == pytest.approx((0.8, 1.0, 2 / 3))
    assert L.recall("left left left", "left lung") == 0.75          # 3 / (3 + 1)
    assert L.precision("left liver", "left lung") == 0.5            # tp 1, fp 1
    assert L.f1("", "left") == 0 and L.f1("left", "") == 0          # empty side -> 0, 0, 0
    assert L.f1("kidney", "liver") == 0                             # tp == 0 -> 0, 0, 0


def test_bleu_is_nltk_sentence_bleu():
    # weights (1,0,0,0): bp * p1; p1 clipped by the reference count; bp exp(1 - r/c) when c <= r
    assert L.bleu_1("left left", "left lung") == pytest.approx(0.5)
    assert L.bleu_1("left", "left lung") == pytest.approx(math.exp(-1))
    assert L.bleu_1("", "left") == 0                                 # no unigram match -> 0
    # default weights on a one-word match: p2..p4 have no n-grams -> sys.float_info.min (method0)
    assert 0 < L.bleu("left", "left") < 1e-200


@pytest.mark.parametrize("pred, ref, fixed, prefix", [
    ("Yes, there is.", "yes", 1.0, 1.0),
    ("normal", "no", 1.0, 1.0),            # 'no' in 'normal': plain substring test
    ("yes or no", "yes", 1.0, 1.0),        # a hedge is credited
    ("yes or no", "no", 1.0, 1.0),
    ("left", "left", 0.0, 0.0),            # no "yes"/"no" anywhere -> else branch appends 0
    ("there is nothing", "yes", 0.0, None),  # mentions "no" (in "nothing"), misses: 0 / dropped
    ("no", "yes", 0.0, None),
    ("", "no", 0.0, 0.0),                  # empty: else branch, counted
])
def test_closed_rule_and_its_prefix_variant(pred, ref, fixed, prefix):
    # b9a98a7: "else: closed_scores['hit'].append(0)"; e9972cf lacks that else (no append)
    assert L.closed_hit(pred, ref) == fixed
    assert L.closed_hit_prefix(pred, ref) == prefix


def test_family_scores_open_questions_only_and_drops_prefix_misses():
    items = [("c1", "yes", "closed", "yes"), ("c2", "no", "closed", "yes"), ("c3", "no", "closed", "left"),
             ("o1", "left lung", "open", "left left"), ("o2", "liver", "open", "")]
    preds = [Prediction(id=i, question="q", reference=r, prediction=p, answer_type=t) for i, r, t, p in items]
    m = score_predictions(preds, protocols="llava-med", bootstrap=0).metrics
    assert (m["llava-med-closed"]["value"], m["llava-med-closed"]["n"]) == (pytest.approx(1 / 3), 3)
    # e9972cf: c2 says "yes" and misses -> not in the denominator; c3 has no yes/no -> 0 -> 1/2
    assert (m["llava-med-closed-e9972cf"]["value"], m["llava-med-closed-e9972cf"]["n"]) == (0.5, 2)
    assert m["llava-med-recall"]["n"] == 2 and m["llava-med-recall"]["value"] == pytest.approx(1 / 3)
    assert m["llava-med-exact"]["value"] == pytest.approx(0.25)     # (1/2 + 0) / 2
    # majority closed reference "no": under e9972cf every miss says "no" -> dropped -> 100%
    assert m["llava-med-closed-e9972cf"]["majority"] == {"answer": "no", "value": 1.0}
    assert m["llava-med-closed"]["majority"]["value"] == pytest.approx(2 / 3)


def test_open_accuracy_picks_the_most_covered_training_answer():
    # calculate_appearance_with_normalization: similarity = prediction's distinct words found in the
    # candidate / candidate's distinct words; argmax -> first of equals; must equal the reference
    cands = L.open_candidates([("left lung", "open"), ("lung", "open"), ("yes", "closed")])
    assert [c for c, _ in cands] == ["left lung", "lung"]
    assert L.open_accuracy("the lung", "lung", cands) == 1.0          # "lung" 1/1 beats "left lung" 1/2
    assert L.open_accuracy("left lung, lung", "lung", cands) == 0.0   # both 1.0: first ("left lung") wins
    assert L.open_accuracy("kidney", "left lung", cands) == 1.0       # all 0: argmax is the first
