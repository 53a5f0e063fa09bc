"""PeFoMed MedVQAEval (jinlHe/PeFoMed@5242449 pefomed/common/medvqa_tools/vqa_eval.py): hand-worked
pairs from its preprocess_answer and setAccuracy."""
import pytest

from pefomed.evaluation import Prediction, exact_match, score_predictions
from pefomed.evaluation.peers import pefomed_paper as P


@pytest.mark.parametrize("pred, ref, hit", [
    ("R.U.Q.", "ruq", 1.0),           # periodStrip deletes the periods (pefomed's own: "r u q")
    ("X-ray", "xray", 1.0),           # '-' -> ' ', then .replace('x ray', 'xray')
    ("x - ray", "xray", 1.0),         # ' -' present -> '-' deleted -> "x  ray" -> split/join "x ray"
    ("1,000", "1000", 1.0),           # commaStrip matched -> every punct mark deleted
    ("left, right", "left right", 1.0),
    ("Two", "2", 1.0),                # manualMap
    ("The left lung.", "left lung", 1.0),   # articles + period
    ("Yes, there is", "yes", 0.0),    # exact equality only: no yes/no leniency
    ("yes yes", "yes", 0.0),          # repeats are not collapsed
    ("caf\u00e9", "cafe", 0.0),       # no Unicode folding
    ("it\u2019s", "it's", 0.0),       # curly apostrophe untouched
    ("", "no", 0.0),
    ("", "", 1.0),                    # both preprocess to "" -> gtAns == resAns
    ("a", "", 1.0),                   # "a" is an article -> ""
    ("no\tno", "no no", 1.0),
])
def test_exact_after_preprocess_answer(pred, ref, hit):
    assert P.exact(pred, ref) == hit


def test_differs_from_pefomeds_own_exact_match_where_the_issue_says():
    assert P.exact("R.U.Q.", "ruq") == 1.0 and exact_match("R.U.Q.", "ruq") == 0.0
    assert P.exact("caf\u00e9", "cafe\u0301") == 0.0 and exact_match("caf\u00e9", "cafe\u0301") == 1.0


def test_values_print_with_round_2_and_two_decimals():
    # round(100 * float(sum(accQA)) / len(accQA), self.n) with n=2, logged "%.02f"
    assert P.format_value(1, 3) == "33.33" and P.format_value(2, 3) == "66.67"
    assert P.format_value(1, 8) == "12.50" and P.format_value(0, 5) == "0.00"


def test_family_closed_open_overall():
    items = [("c1", "yes", "closed", "Yes."), ("c2", "no", "closed", "no, there is none"),
             ("o1", "x-ray", "open", "xray"), ("o2", "2", "open", "two"), ("o3", "liver", "open", "the liver")]
    preds = [Prediction(id=i, question="q", reference=r, prediction=p, answer_type=t) for i, r, t, p in items]
    m = score_predictions(preds, protocols="pefomed-paper", bootstrap=0).metrics
    assert m["pefomed-paper-closed"]["value"] == 0.5 and m["pefomed-paper-open"]["value"] == 1.0
    assert (m["pefomed-paper-overall"]["total"], m["pefomed-paper-overall"]["n"]) == (4.0, 5)
    assert m["pefomed-paper-closed"]["majority"]["answer"] == "no"   # tie 1-1: alphabetical
