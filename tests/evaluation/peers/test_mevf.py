"""MEVF (aioz-ai/MICCAI19-MedVQA test.py + tools/compute_softscore.py): the answer list is the
preprocessed training answers; only free-form questions are scored; printed round(x * 100, 1)."""
import pytest

from pefomed.errors import PefomedError
from pefomed.evaluation import Prediction, score_predictions
from pefomed.evaluation.peers import mevf as M

TRAIN = [("Yes", "closed"), ("no", "closed"), ("left lung", "open"), ("X-ray", "open"), ("Yes", "closed")]


def test_answer_classes_are_preprocessed_training_answers():
    # filter_answers(train, 0) -> ans2label over preprocess_answer(answer), every answer type
    assert M.answer_classes(TRAIN) == {"yes", "no", "left lung", "xray"}


@pytest.mark.parametrize("pred, ref, hit", [
    ("yes", "Yes", 1.0), ("The left lung.", "left lung", 1.0), ("x ray", "X-ray", 1.0),
    ("right lung", "right lung", 0.0),   # compute_target: no label for an unseen answer -> scores 0
    ("no", "yes", 0.0), ("", "no", 0.0),
])
def test_classifier_hit(pred, ref, hit):
    assert M.classifier_hit(pred, ref, M.answer_classes(TRAIN)) == hit


def test_family_scores_free_form_questions_by_answer_type():
    items = [("c1", "yes", "closed", "yes", "freeform"), ("c2", "no", "closed", "no", "para"),
             ("c3", "no", "closed", "yes", "freeform"), ("o1", "left lung", "open", "left lung", ""),
             ("o2", "right lung", "open", "right lung", "freeform")]
    preds = [Prediction(id=i, question="q", reference=r, prediction=p, answer_type=t, phrase_type=ph)
             for i, r, t, p, ph in items]
    m = score_predictions(preds, protocols="mevf", bootstrap=0, train_answers=TRAIN).metrics
    # `if p_type[0] != "freeform": continue` drops c2; o1 has no phrase type and is kept
    assert (m["mevf-closed"]["value"], m["mevf-closed"]["n"]) == (0.5, 2)
    assert (m["mevf-open"]["value"], m["mevf-open"]["n"]) == (0.5, 2)     # o2 has no class
    assert (m["mevf-all"]["total"], m["mevf-all"]["n"]) == (2.0, 4)
    assert M.format_value(2, 3) == "66.7"                               # round(score*100, 1)


def test_needs_the_training_answers():
    preds = [Prediction(id="a", question="q", reference="yes", prediction="yes", answer_type="closed")]
    with pytest.raises(PefomedError, match="need the training answers"):
        score_predictions(preds, protocols="mevf")
