import json

import pytest

from pefomed.errors import PefomedError
from pefomed.evaluation import (Prediction, atomic_write, read_metrics, read_predictions, rescore, score,
                                write_metrics, write_predictions)


@pytest.fixture
def preds(rec):
    records = [rec("c1", "yes", organ="chest"), rec("c2", "no", modality="ct"),
               rec("o1", "left lung", "open", question_type="POS"),
               rec("o2", "3.5 cm", "open", question_type="SIZE")]
    answers = ["Yes, there is", "\x03odd\ttext\n with a newline", "the left lung \u00e9", "3.5cm"]
    return records, [Prediction.for_record(r, a) for r, a in zip(records, answers)]


def test_predictions_jsonl_round_trip(tmp_path, preds):
    _, predictions = preds
    path = write_predictions(tmp_path / "p.jsonl", predictions)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all(json.loads(line)["id"] for line in lines)  # one object per line
    assert read_predictions(path) == predictions


def test_rescore_equals_score(tmp_path, preds):
    records, predictions = preds
    path = write_predictions(tmp_path / "p.jsonl", predictions)
    direct = score(records, predictions, bootstrap=300, seed=5)
    assert rescore(path, bootstrap=300, seed=5).to_dict() == direct.to_dict()


def test_metrics_json_round_trip(tmp_path, preds):
    records, predictions = preds
    res = score(records, predictions, bootstrap=100)
    path = write_metrics(tmp_path / "m.json", res)
    assert read_metrics(path).to_dict() == res.to_dict()
    assert json.loads(path.read_text())["metrics"]["closed-lenient"]["n"] == 2


class _Unserialisable:
    def to_dict(self):
        return {"id": "x", "value": float("nan")}  # allow_nan=False refuses it


def test_failed_write_leaves_no_partial_file(tmp_path, preds):
    _, predictions = preds
    path = write_predictions(tmp_path / "p.jsonl", predictions)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_predictions(path, predictions[:2] + [_Unserialisable()] + predictions[2:])
    assert path.read_bytes() == before                      # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]  # no temp file left
    fresh = tmp_path / "new.jsonl"
    with pytest.raises(ValueError):
        write_predictions(fresh, [predictions[0], _Unserialisable()])
    assert not fresh.exists()


def test_atomic_write_with_failing_generator(tmp_path):
    def chunks():
        yield "first line\n"
        raise RuntimeError("serialiser died")

    target = tmp_path / "sub" / "f.txt"
    with pytest.raises(RuntimeError):
        atomic_write(target, chunks())
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_damaged_or_missing_files_raise_one_line_errors(tmp_path, preds):
    _, predictions = preds
    path = write_predictions(tmp_path / "p.jsonl", predictions)
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(PefomedError, match=r"p\.jsonl:5: not valid JSON"):
        read_predictions(path)
    path.write_text(json.dumps({"id": "a", "question": "q", "reference": "r", "prediction": 3,
                                "answer_type": "maybe"}) + "\n")
    with pytest.raises(PefomedError, match="'prediction' must be a string.*answer_type must be one of"):
        read_predictions(path)
    with pytest.raises(PefomedError, match="no predictions file"):
        rescore(tmp_path / "absent.jsonl")
