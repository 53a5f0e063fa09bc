"""run_finetune end to end on tiny-llava, the run folder it writes, and RunSpec validation."""
from __future__ import annotations

import json

import pytest

from pefomed.errors import PefomedError
from pefomed.train import Budget, RunRecord, RunSpec, TrainConfig, run_finetune
from tests.train.conftest import make_records

FILES = {"adapter", "run.json", "cost.json", "metrics.json", "predictions.jsonl", "config.yaml",
         "metrics.jsonl", "spend.json"}


def _spec(tmp_path, **kw) -> RunSpec:
    base = dict(model="tiny-llava", dataset="in-memory", adapter="lora",
                train=TrainConfig(batch_size=2, device="cpu", dtype="fp32"), budget=Budget(max_steps=2),
                out_dir=str(tmp_path / "run"))
    return RunSpec(**{**base, **kw})


def test_run_finetune_writes_every_file_and_round_trips(tmp_path):
    records = make_records(8)
    spec = _spec(tmp_path, seed=5)
    record = run_finetune(spec, progress=False, train_data=records[:6], eval_data=records[6:])
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} == FILES
    assert any((out / "adapter").iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind
    assert record.status == "ok" and record.stop_reason == "max_steps" and record.spec.train.seed == 5
    run = json.loads((out / "run.json").read_text())
    assert run["versions"]["torch"] and run["versions"]["peft"] and "optuna" in run["versions"]
    assert run["datasets"]["train"]["n"] == 6 and len(run["datasets"]["eval"]["fingerprint"]) == 64
    assert run["device"]["device"] == "cpu"
    cost = json.loads((out / "cost.json").read_text())
    assert cost["steps"] == 2 and cost["samples"] == 4
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 2 and record.metrics["metrics"].keys() == metrics["metrics"].keys()
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2
    loaded = RunRecord.load(out)
    assert loaded.to_dict() == record.to_dict()
    assert json.loads(json.dumps(record.to_dict())) == record.to_dict()


def test_a_non_empty_out_dir_is_refused_before_training(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "old.txt").write_text("x")
    with pytest.raises(PefomedError, match="already exists and is not empty"):
        run_finetune(_spec(tmp_path), progress=False, train_data=make_records(2), eval_data=make_records(2))


def test_a_failed_run_records_why_and_writes_no_adapter(tmp_path):
    spec = _spec(tmp_path, budget=Budget(max_steps=5, max_memory_mb=1.0))
    record = run_finetune(spec, progress=False, train_data=make_records(4), eval_data=make_records(2))
    assert (record.status, record.stop_reason, record.metrics) == ("failed", "max_memory_mb", None)
    written = {p.name for p in (tmp_path / "run").iterdir()}
    # the cap stops inside the first step, so no step was spent: spend.json comes with a finished step
    assert {"run.json", "cost.json", "config.yaml", "metrics.jsonl"} <= written
    assert written <= {"run.json", "cost.json", "config.yaml", "metrics.jsonl", "spend.json"}


def test_a_bad_protocol_is_refused_before_training(tmp_path):
    with pytest.raises(PefomedError, match="no-such-protocol"):
        run_finetune(_spec(tmp_path, protocols=("no-such-protocol",)), progress=False,
                     train_data=make_records(2), eval_data=make_records(2))
    assert list(tmp_path.iterdir()) == []


def test_a_crash_mid_write_leaves_nothing_behind(tmp_path, monkeypatch):
    import pefomed.evaluation

    def crash(model, records, *, out_dir, **kw):
        (out_dir / "predictions.jsonl").write_text("{}\n")  # a half-written run
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pefomed.evaluation, "evaluate", crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_finetune(_spec(tmp_path), progress=False, train_data=make_records(2), eval_data=make_records(2))
    assert list(tmp_path.iterdir()) == []


def test_run_spec_reports_every_error_at_once():
    with pytest.raises(PefomedError) as exc:
        RunSpec(model="", dataset="d", adapter="lora", parts=("eyes",), layers="conv", train_limit=0)
    msg = str(exc.value)
    for part in ("model must be a non-empty string", "parts must be", "layers must be", "train_limit"):
        assert part in msg, msg


def test_run_spec_round_trips_and_one_seed_rules(tmp_path):
    spec = _spec(tmp_path, parts="language", protocols="closed-lenient", seed=7)
    assert spec.parts == ("language",) and spec.train.seed == 7
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert RunSpec(model="m", dataset="d", adapter="a", train=TrainConfig(seed=3)).seed == 3
    with pytest.raises(PefomedError, match="unknown RunSpec field"):
        RunSpec.from_dict({**spec.to_dict(), "lr": 1})
