"""Evaluation while training, the best checkpoint, early stopping and experiment logging."""
from __future__ import annotations

import json

import pytest

from pefomed.errors import PefomedError
from pefomed.train import Budget, RunControl, RunSpec, TrainConfig, run_finetune
from pefomed.train import checkpoint as ckpt
from pefomed.train.reporting import read_metrics_log
from tests.train.conftest import make_records


def _spec(tmp_path, control: RunControl, *, lr: float = 1e-3, steps: int = 6) -> RunSpec:
    return RunSpec(model="tiny-llava", dataset="in-memory", adapter="lora", settings={"r": 4},
                   train=TrainConfig(batch_size=2, lr=lr, device="cpu", dtype="fp32"),
                   budget=Budget(max_steps=steps), control=control, protocols=("closed-lenient",),
                   out_dir=str(tmp_path / "run"))


def _run(spec):
    return run_finetune(spec, progress=False, train_data=make_records(8), eval_data=make_records(2, seed=1),
                        val_data=make_records(4, seed=2))


def test_eval_every_scores_validation_keeps_the_best_and_logs_everything(tmp_path):
    record = _run(_spec(tmp_path, RunControl(eval_every=2, save_every=5, keep_last=1)))
    out = tmp_path / "run"
    assert [e["step"] for e in record.evaluations] == [2, 4, 6]
    best = record.best
    assert best["value"] == max(e["value"] for e in record.evaluations) and best["metric"] == "closed-lenient"
    kept = {p.name for p in ckpt.checkpoint_dirs(out)}
    assert kept == {f"step-{best['step']}", "step-6"}  # the best plus the last one
    assert json.loads((out / "checkpoints" / "best.json").read_text())["step"] == best["step"]
    assert json.loads((out / "run.json").read_text())["best"]["step"] == best["step"]
    log = read_metrics_log(out / "metrics.jsonl")
    steps = [r for r in log if "train/loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 7))
    assert [r["train/loss"] for r in steps] == record.train.losses
    for key in ("train/lr", "train/grad_norm", "train/samples_per_second", "train/memory_mb"):
        assert all(r[key] > 0 for r in steps), key
    assert [r["step"] for r in log if "eval/closed-lenient" in r] == [2, 4, 6]


def test_patience_stops_a_run_that_no_longer_improves(tmp_path):
    # a learning rate too small to change any prediction: the score is flat, so the second
    # evaluation after the first (best) one spends the patience
    record = _run(_spec(tmp_path, RunControl(eval_every=1, patience=2), lr=1e-12, steps=50))
    assert record.stop_reason == "early_stopping" and record.status == "ok"
    assert [e["step"] for e in record.evaluations] == [1, 2, 3] and record.best["step"] == 1


def test_tensorboard_events_are_written_and_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    record = _run(_spec(tmp_path, RunControl(eval_every=3, report_to=("tensorboard",)), steps=3))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2, 3]
    assert [e.value for e in losses] == pytest.approx(record.train.losses, rel=1e-6)
    assert [e.step for e in events.Scalars("eval/closed-lenient")] == [3]


def test_a_missing_logger_is_one_line_naming_the_extra_before_any_work(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(PefomedError, match=r"pip install 'pefomed\[wandb\]'") as info:
        _run(_spec(tmp_path, RunControl(report_to=("wandb",))))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_run_control_reports_every_error_at_once():
    with pytest.raises(PefomedError) as info:
        RunControl(save_every=0, report_to=("tensorbored",), patience=3, log_every=-1)
    for word in ("save_every", "tensorbored", "patience needs eval_every", "log_every"):
        assert word in str(info.value)


def test_a_resumed_log_drops_the_recomputed_steps_and_a_torn_last_line(tmp_path):
    from pefomed.train.reporting import MetricsLog

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "train/loss": 2.0}\n{"step": 2, "train/loss": 1.5}\n{"step": 3, "tra')
    log = MetricsLog(path, after_step=1)
    log.log(2, {"train/loss": 1.25, "train/grad_norm": float("nan")})
    log.close()
    assert read_metrics_log(path) == [{"step": 1, "train/loss": 2.0},
                                      {"step": 2, "train/loss": 1.25, "train/grad_norm": None}]
