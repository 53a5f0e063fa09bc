"""End to end on tiny-llava + synth-rad with the real recipe: the CLI, a failing trial, a SIGKILL
mid-trial then resume, and two worker processes on one SQLite study."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from click.testing import CliRunner

from pefomed.cli import main
from pefomed.sweep import study as st
from pefomed.sweep.records import read_records
from pefomed.sweep.report import FILES

pytestmark = pytest.mark.slow

SPEC = {
    "name": "e2e", "model": "tiny-llava",
    "dataset": {"name": "synth-rad", "train_limit": 16, "eval_limit": 8, "report_limit": 8},
    "adapters": ["lora", "ia3"],
    "budget": {"max_steps": 2},
    "train": {"batch_size": 4},
    "objectives": {"accuracy": "token-f1", "cost": "trainable_params"},
    "n_trials": 3, "seed": 0,
}


def write_spec(tmp_path: Path, **changes) -> Path:
    spec = {**SPEC, **changes, "run_dir": str(tmp_path / "run")}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def sweep_cmd(spec: Path) -> list[str]:
    return [sys.executable, "-c", "from pefomed.cli import main; main()", "sweep", str(spec), "--no-live"]


def load(run: Path, name: str = "e2e"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{(run / 'study.db').resolve()}")


def test_cli_sweep_with_a_nan_trial_then_report(tmp_path):
    spec = write_spec(tmp_path, n_trials=4, train={"batch_size": 4, "max_grad_norm": None},
                      adapters=["lora", {"name": "lora", "label": "lora-hot", "settings": {"learning_rate": 1e30}},
                                "frozen"])
    result = CliRunner().invoke(main, ["sweep", str(spec), "--no-live"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    records = read_records(run)
    trials = records.trials()
    assert len(trials) == 4
    hot = [r for r in trials if r["label"] == "lora-hot"]
    assert hot and all(r["status"] == "failed" and "NaN" in r["reason"] for r in hot)
    ok = [r for r in trials if r["status"] == "complete"]
    assert {r["label"] for r in ok} >= {"lora", "frozen"}
    for r in ok:
        assert r["dataset"]["search"]["fingerprint"] and r["cost"]["trainable_params"] >= 0
        assert Path(r["run_dir"], "adapter").is_dir()
        assert "token-f1" in r["metrics"] and "closed-lenient" in r["metrics"]
    frozen = next(r for r in ok if r["label"] == "frozen")
    assert frozen["cost"]["trainable_params"] == 0 and frozen["train"]["steps"] == 0
    finals = records.finals()
    assert finals and all(f["split"] == "test" and f["metrics"]["token-f1"]["n"] == 8 for f in finals)
    assert sorted(p.name for p in run.iterdir() if p.name in FILES) == sorted(FILES)
    # reports regenerate from the records alone, even with the database gone
    (run / "study.db").unlink()
    (run / "frontier.md").unlink()
    again = CliRunner().invoke(main, ["report", str(run)])
    assert again.exit_code == 0, again.output
    assert (run / "frontier.md").read_text().count("| lora") >= 1


def _wait_for_running_trial(run: Path, proc: subprocess.Popen, deadline: float) -> int:
    """Poll the study until one trial finished and another is running (claimed); its number."""
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the sweep finished before it could be killed; raise max_steps"
        if (run / "study.db").exists():
            try:
                trials = load(run).get_trials(deepcopy=False)
            except Exception:  # study not created yet, or the database is busy
                trials = []
            done = st.counts(trials)["finished"] if trials else 0
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING
                       and st.ATTR_WORKER in t.user_attrs]
            if done >= 1 and running:
                time.sleep(1.0)  # inside the trial: it trains for budget.max_seconds
                return running[0].number
        time.sleep(0.2)
    raise AssertionError("no trial was running within the deadline")


def test_sigkill_mid_trial_then_rerun_resumes(tmp_path):
    # each trial trains for 5 s whatever the machine's speed, so the kill lands mid-trial
    spec = write_spec(tmp_path, budget={"max_seconds": 5}, n_trials=3)
    run = tmp_path / "run"
    proc = subprocess.Popen(sweep_cmd(spec), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        killed = _wait_for_running_trial(run, proc, time.monotonic() + 300)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {r["trial"]: r for r in read_records(run).trials()}
    assert before and killed not in before
    assert load(run).trials[killed].state == optuna.trial.TrialState.RUNNING  # left behind by the kill

    rerun = subprocess.run(sweep_cmd(spec), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    trials = read_records(run).trials()
    finished = [r for r in trials if r["status"] in ("complete", "failed")]
    assert len(finished) == 3  # exactly n_trials, nothing lost
    assert all(next(r for r in trials if r["trial"] == t) == rec for t, rec in before.items())  # none re-run
    interrupted = [r for r in trials if r["status"] == "interrupted"]
    assert [r["trial"] for r in interrupted] == [killed]
    retry = [r for r in finished if r["retry_of"] == [killed]]
    assert len(retry) == 1 and retry[0]["params"] == interrupted[0]["params"]
    study = load(run)
    assert study.trials[killed].state == optuna.trial.TrialState.FAIL
    assert st.counts(study.get_trials())["finished"] == 3
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


def test_two_worker_processes_share_one_study_exactly(tmp_path):
    spec = write_spec(tmp_path, n_trials=5, budget={"max_seconds": 2})  # trials overlap in time
    run = tmp_path / "run"
    procs = [subprocess.Popen(sweep_cmd(spec), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    study = load(run)
    assert st.counts(study.get_trials())["finished"] == 5
    trials = read_records(run).trials()
    assert sorted(r["trial"] for r in trials) == sorted({r["trial"] for r in trials})
    assert len([r for r in trials if r["status"] in ("complete", "failed")]) == 5
    ran = [d.name for d in (run / "trials").iterdir() if not d.name.startswith(".")]
    assert len(ran) == 5  # each trial trained once, none beyond n_trials
    assert len({r["pid"] for r in trials}) == 2  # both workers really shared the study
    queue = [t.user_attrs.get(st.ATTR_QUEUE) for t in study.trials
             if t.state == optuna.trial.TrialState.COMPLETE and st.ATTR_QUEUE in t.user_attrs]
    assert len(queue) == len(set(queue))  # each method's defaults trial ran once
    skipped = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(st.ATTR_SKIPPED in t.user_attrs for t in skipped)
    assert json.loads((run / "summary.json").read_text())["counts"]["complete"] >= 1


def test_memory_cap_fails_trained_trials_with_their_reason(tmp_path):
    spec = write_spec(tmp_path, adapters=["lora", "frozen"], n_trials=2)
    result = CliRunner().invoke(main, ["sweep", str(spec), "--no-live", "--no-final",
                                       "--set", "budget.max_memory_mb=1"])
    assert result.exit_code == 0, result.output
    by_label = {r["label"]: r for r in read_records(tmp_path / "run").trials()}
    assert by_label["lora"]["status"] == "failed"
    # the planner sizes lora above 1 MB before training: skipped at zero cost, never trained
    assert by_label["lora"]["reason"].startswith("skipped: planned ")
    assert "(budget.max_memory_mb=1)" in by_label["lora"]["reason"]
    assert by_label["lora"]["train"]["skipped_by_plan"] is True
    assert by_label["frozen"]["status"] == "complete"  # trains nothing, so no training budget applies
