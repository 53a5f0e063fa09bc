import pytest

from pefomed.errors import PefomedError
from pefomed.evaluation import evaluate, predict, read_metrics, rescore
from pefomed.models.registry import create_model


@pytest.fixture(scope="module")
def bundle():
    return create_model("tiny-llava")


@pytest.fixture
def records(rec):
    return [rec("c1", "yes", organ="chest"), rec("c2", "no", organ="head"),
            rec("o1", "left lung", "open", question="where is the mass?", organ="chest"),
            rec("o2", "2", "open", question="how many lesions?"), rec("c3", "yes")]


def test_one_prediction_per_record_in_order_and_modes_restored(bundle, records):
    model = bundle.model
    model.train()
    model.model.vision_tower.eval()  # a frozen tower kept in eval mode must stay so
    preds = predict(bundle, records, batch_size=2, max_new_tokens=4)
    assert [p.id for p in preds] == [r.id for r in records]
    assert all(isinstance(p.prediction, str) for p in preds)
    assert [(p.reference, p.answer_type, p.organ) for p in preds] == \
        [(r.answer, r.answer_type, r.organ) for r in records]
    assert model.training and model.model.language_model.training
    assert not model.model.vision_tower.training
    model.eval()


def test_batching_does_not_change_greedy_answers(bundle, records):
    one = [p.prediction for p in predict(bundle, records, batch_size=1, max_new_tokens=3)]
    all_ = [p.prediction for p in predict(bundle, records, batch_size=5, max_new_tokens=3, progress=True)]
    assert one == all_


def test_accepts_an_adapted_model_like_object(bundle, records):
    class Adapted:
        def __init__(self, b):
            self.bundle = b

    assert len(predict(Adapted(bundle), records[:2], max_new_tokens=2)) == 2
    with pytest.raises(PefomedError, match="pass a ModelBundle"):
        predict(object(), records)
    with pytest.raises(PefomedError, match="batch_size must be .* max_new_tokens must be"):
        predict(bundle, records, batch_size=0, max_new_tokens=0)


def test_evaluate_writes_files_that_rescore_to_the_same_result(bundle, records, tmp_path):
    res = evaluate(bundle, records, out_dir=tmp_path / "run", max_new_tokens=3, bootstrap=100, seed=1)
    assert res.n == 5 and res.metrics["closed-lenient"]["n"] == 3
    assert rescore(tmp_path / "run" / "predictions.jsonl", bootstrap=100, seed=1).to_dict() == res.to_dict()
    assert read_metrics(tmp_path / "run" / "metrics.json").to_dict() == res.to_dict()


def test_evaluate_rejects_bad_protocol_before_predicting(records, tmp_path):
    class Exploding:
        bundle = None  # predict would fail differently; the protocol check must come first

    with pytest.raises(PefomedError, match="did you mean"):
        evaluate(Exploding(), records, protocols=["closed-acc"], out_dir=tmp_path)
    assert not any(tmp_path.iterdir())
