import math

import pytest

from pefomed.evaluation import bleu1, closed_match, exact_match, token_f1, token_recall

REF_LONG = "upper lobe of the left lung"   # normalised tokens: upper lobe of left lung (5)


def test_exact_match_after_normalisation():
    assert exact_match("Yes.", "yes") == 1.0
    assert exact_match("The left lung", "left lung") == 1.0
    assert exact_match("two", "2") == 1.0
    assert exact_match("yes", "no") == 0.0
    assert exact_match("yes there is", "yes") == 0.0


def test_closed_match_accepts_a_leading_yes_or_no_only_for_yes_no_references():
    assert closed_match("Yes, there is a mass.", "yes") == 1.0
    assert closed_match("no evidence of fracture", "No") == 1.0
    assert closed_match("there is no mass", "no") == 0.0   # "no" is not the first token
    assert closed_match("not seen", "no") == 0.0            # first token "not" != "no"
    assert closed_match("no", "yes") == 0.0
    assert closed_match("left side", "left") == 0.0         # leniency is for yes/no only
    assert closed_match("Left.", "left") == 1.0


def test_closed_match_does_not_credit_hedges():
    assert closed_match("yes or no", "yes") == 0.0
    assert closed_match("Yes/No", "no") == 0.0              # first token "yes" anyway
    assert closed_match("no, maybe yes", "no") == 0.0
    assert closed_match("yes yes", "yes") == 1.0             # repeating the answer is no hedge
    assert closed_match("", "yes") == 0.0 and closed_match("", "") == 1.0


def test_token_recall_hand_computed():
    # reference tokens: upper, lobe, of, left, lung; present in "left upper lobe": upper, lobe, left
    assert token_recall("left upper lobe", REF_LONG) == pytest.approx(3 / 5)
    assert token_recall("The LEFT lung!", "left lung") == 1.0
    assert token_recall("lung", "left lung") == pytest.approx(1 / 2)
    assert token_recall("liver", "left lung") == 0.0
    assert token_recall("", "") == 1.0 and token_recall("x", "") == 0.0


def test_token_f1_hand_computed():
    # pred (3 tokens) left upper lobe; ref (5 tokens); overlap 3 -> P = 3/3, R = 3/5
    # F1 = 2 * 1 * 0.6 / (1 + 0.6) = 1.2 / 1.6 = 0.75
    assert token_f1("left upper lobe", REF_LONG) == pytest.approx(0.75)
    # pred lung lung (2), ref lung (1): clipped overlap 1 -> P = 1/2, R = 1; F1 = 1 / 1.5 = 2/3
    assert token_f1("lung lung", "lung") == pytest.approx(2 / 3)
    assert token_f1("liver", "lung") == 0.0
    assert token_f1("", "lung") == 0.0 and token_f1("the", "") == 1.0  # both empty after normalising


def test_bleu1_hand_computed():
    # pred left lung (c=2), ref 5 tokens: precision 2/2 = 1; c < r -> BP = exp(1 - 5/2) = exp(-1.5)
    assert bleu1("left lung", REF_LONG) == pytest.approx(math.exp(-1.5))
    # pred lung lung lung (c=3), ref lung (r=1): clipped 1/3; c > r -> BP = 1
    assert bleu1("the lung lung lung", "lung") == pytest.approx(1 / 3)
    # equal lengths: BP = exp(0) = 1; overlap 1 of 2 -> 0.5
    assert bleu1("left liver", "left lung") == pytest.approx(0.5)
    assert bleu1("Left lung.", "the left lung") == 1.0
    assert bleu1("", "lung") == 0.0


@pytest.mark.parametrize("fn", [exact_match, closed_match, token_recall, token_f1, bleu1])
def test_metrics_lie_in_unit_interval(fn):
    pairs = [("yes", "yes"), ("no", "yes"), ("a b c", "c d"), ("", "x"), ("x x x", "x"), ("3.5 cm", "3.5")]
    assert all(0.0 <= fn(p, r) <= 1.0 for p, r in pairs)
