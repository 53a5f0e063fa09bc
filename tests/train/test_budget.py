"""Budget validation and the tracker's bookkeeping (no model needed)."""
from __future__ import annotations

import pytest

from pefomed.errors import PefomedError
from pefomed.train import Budget, BudgetTracker, TrainConfig, planned_steps


def test_budget_reports_every_error_at_once():
    with pytest.raises(PefomedError) as exc:
        Budget(max_steps=0, max_samples=2.5, max_seconds=-1.0, max_memory_mb=0)
    msg = str(exc.value)
    assert "\n" not in msg
    for part in ("max_steps > 0", "max_samples must be an integer", "max_seconds > 0", "max_memory_mb > 0"):
        assert part in msg, msg


def test_budget_needs_a_limit_and_memory_cap_alone_is_not_one():
    with pytest.raises(PefomedError, match="at least one of max_steps"):
        Budget()
    with pytest.raises(PefomedError, match="at least one of max_steps"):
        Budget(max_memory_mb=1000)


def test_budget_rejects_bools_and_nan():
    with pytest.raises(PefomedError) as exc:
        Budget(max_steps=True, max_seconds=float("nan"))
    assert "max_steps must be an integer" in str(exc.value)
    assert "max_seconds > 0" in str(exc.value)


def test_budget_round_trips_and_describes_itself():
    b = Budget(max_steps=10, max_device_seconds=2.5)
    assert Budget.from_dict(b.to_dict()) == b
    assert b.describe() == "max_steps=10, max_device_seconds=2.5"


def test_tracker_trims_to_max_samples_and_names_the_limit():
    tracker = BudgetTracker(Budget(max_samples=5, max_steps=100))
    assert tracker.samples_allowed(4) == 4
    tracker.record_step(4)
    assert tracker.check() is None
    assert tracker.samples_allowed(4) == 1
    tracker.record_step(1)
    assert tracker.check() == "max_samples"


def test_tracker_memory_cap_wins_over_a_simultaneous_step_limit():
    tracker = BudgetTracker(Budget(max_steps=1, max_memory_mb=1.0))
    tracker.record_step(1)
    assert tracker.check() == "max_memory_mb"
    assert tracker.memory.kind == "cpu_rss" and tracker.memory.peak_mb > 1.0


def test_train_config_reports_every_error_at_once():
    with pytest.raises(PefomedError) as exc:
        TrainConfig(lr=0, batch_size=0, scheduler="step", warmup_ratio=1.0, device="gpu", dtype="fp8")
    msg = str(exc.value)
    parts = ("lr > 0", "batch_size >= 1", "scheduler in", "0 <= warmup_ratio < 1", "device is", "dtype in")
    for part in parts:
        assert part in msg, msg


def test_planned_steps_takes_the_tightest_count_limit():
    cfg = TrainConfig(batch_size=2, grad_accum=2, epochs=3)
    assert planned_steps(10, cfg, Budget(max_seconds=5)) == 9  # 3 epochs x ceil(10/4)
    assert planned_steps(10, cfg, Budget(max_steps=4)) == 4
    assert planned_steps(10, cfg, Budget(max_samples=6)) == 2
