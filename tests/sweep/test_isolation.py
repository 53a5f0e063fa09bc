"""Per-trial isolation: each trial in a fresh process, so a dying trial cannot take the worker
down and a trial's peak memory is its own."""
from __future__ import annotations

import pytest

from pefomed.errors import PefomedError
from pefomed.sweep.engine import run_sweep
from pefomed.sweep.execution import ExecutionSpec
from pefomed.sweep.records import read_records
from pefomed.sweep.spec import SpecError

from .conftest import FakeRunner, make_spec

RUNNERS = "tests.sweep.isolation_runners"
SPEC = dict(adapters=["lora", "ia3", "frozen"], n_trials=3,
            objectives={"accuracy": "token-f1", "cost": "peak_memory_mb"})


def _by_label(tmp_path):
    return {r["label"]: r for r in read_records(tmp_path / "run").trials()}


@pytest.mark.slow
def test_a_killed_trial_process_fails_that_trial_only(tmp_path):
    spec = make_spec(tmp_path, **SPEC, execution={"isolation": "process"})
    result = run_sweep(spec, runner_factory=f"{RUNNERS}:CrashingRunner", final_eval=False)
    assert result.finished == 3 and result.ran == 3
    trials = _by_label(tmp_path)
    assert trials["ia3"]["status"] == "failed"
    assert trials["ia3"]["reason"].startswith("the trial process was killed by SIGKILL (out of memory?")
    assert "trial.log" in trials["ia3"]["reason"]
    assert trials["lora"]["status"] == trials["frozen"]["status"] == "complete"


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ["none", "process"])
def test_peak_memory_is_the_trials_own_only_when_isolated(tmp_path, isolation):
    from tests.sweep.isolation_runners import LeakyRunner

    spec = make_spec(tmp_path, **SPEC, execution={"isolation": isolation})
    if isolation == "none":
        run_sweep(spec, runner=LeakyRunner(spec), final_eval=False)
    else:
        run_sweep(spec, runner_factory=f"{RUNNERS}:LeakyRunner", final_eval=False)
    trials = _by_label(tmp_path)
    lora, ia3 = trials["lora"]["cost"]["peak_memory_mb"], trials["ia3"]["cost"]["peak_memory_mb"]
    leaked = lora - ia3 > LeakyRunner.LEAK_MB * 0.8  # ia3 ran after lora's leak
    assert leaked == (isolation == "process"), (lora, ia3)


def test_isolation_auto_follows_what_it_buys():
    auto = ExecutionSpec()
    assert auto.isolated(cost="peak_memory_mb", budget={}, cuda=False)
    assert auto.isolated(cost="device_seconds", budget={"max_memory_mb": 4000}, cuda=False)
    assert auto.isolated(cost="device_seconds", budget={"max_steps": 5}, cuda=True)
    assert not auto.isolated(cost="device_seconds", budget={"max_steps": 5}, cuda=False)
    assert ExecutionSpec(isolation="process").isolated(cost="device_seconds", budget={}, cuda=False)
    assert not ExecutionSpec(isolation="none").isolated(cost="peak_memory_mb", budget={}, cuda=True)


def test_process_isolation_needs_an_importable_runner(tmp_path):
    spec = make_spec(tmp_path, **SPEC, execution={"isolation": "process"})
    with pytest.raises(PefomedError, match="runner_factory='module:Name'"):
        run_sweep(spec, runner=FakeRunner(), final_eval=False)


def test_execution_settings_are_validated_all_at_once(tmp_path):
    with pytest.raises(SpecError) as err:
        make_spec(tmp_path, execution={"isolation": "proces", "heartbeat_s": 0, "grace": 3})
    problems = err.value.problems
    assert any(p.startswith("execution.isolation:") and "'process'" in p for p in problems)
    assert any(p.startswith("execution.heartbeat_s: must be an integer") for p in problems)
    assert any(p.startswith("execution.grace:") and "grace_s" in p for p in problems)
    with pytest.raises(SpecError, match=r"grace_s > heartbeat_s must hold"):
        make_spec(tmp_path, execution={"heartbeat_s": 10, "grace_s": 10})
