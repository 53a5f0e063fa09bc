"""Several worker processes on one study in a real PostgreSQL server, as on several machines:
exactly n_trials, no configuration twice, one final report; a worker killed with SIGKILL is
found by its stale heartbeat and its trial re-queued, nothing finished lost or re-run."""
from __future__ import annotations

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

pytestmark = pytest.mark.slow

SPEC = {
    "name": "pg", "model": "tiny-llava",
    "dataset": {"name": "synth-rad", "train_limit": 16, "eval_limit": 8, "report_limit": 8},
    "adapters": ["lora", "ia3"],
    "train": {"batch_size": 4},
    "objectives": {"accuracy": "token-f1", "cost": "trainable_params"},
    "seed": 0,
}


def write_spec(tmp_path: Path, url: str, **changes) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes, "storage": url, "study": "shared",
                                    "run_dir": str(tmp_path / "run")}))
    return path


def worker(spec: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pefomed", "sweep", str(spec), "--no-live", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def trial_dirs(run: Path) -> list[Path]:
    return [d for d in (run / "trials").iterdir() if not d.name.startswith(".")]


def finished_records(run: Path) -> list[dict]:
    return [r for r in read_records(run).trials() if r["status"] in ("complete", "failed")]


def test_three_workers_share_one_postgres_study_exactly(tmp_path, postgres_url):
    spec = write_spec(tmp_path, postgres_url, n_trials=6, budget={"max_seconds": 2})
    procs = [worker(spec, "--no-final") for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    run = tmp_path / "run"
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    assert st.counts(study.get_trials())["finished"] == 6
    finished = finished_records(run)
    assert sorted(r["trial"] for r in finished) == sorted({r["trial"] for r in finished})
    assert len(finished) == 6
    configs = [yaml.safe_dump(r["params"], sort_keys=True) for r in finished]
    assert len(set(configs)) == 6  # no configuration trained twice
    assert len({r["pid"] for r in finished}) == 3  # all three workers really took part
    assert len(trial_dirs(run)) == 6

    final = CliRunner().invoke(main, ["sweep", str(spec), "--no-live"])  # the one final report
    assert final.exit_code == 0, final.output
    assert "0 trial(s) run by this worker" in final.output
    finals = read_records(run).finals()
    assert finals and len({r["trial"] for r in finals}) == len(finals)
    assert (run / "summary.json").is_file()


def test_sigkilled_worker_is_found_by_its_heartbeat_and_its_trial_requeued(tmp_path, postgres_url):
    spec = write_spec(tmp_path, postgres_url, n_trials=4, budget={"max_seconds": 4},
                      execution={"heartbeat_s": 1, "grace_s": 4})
    # the victim looks like a worker on another machine: only its heartbeat can tell it died
    victim = worker(spec, "--no-final", env={st.HOST_ENV: "another-machine"})
    killed = _wait_for_running_trial(postgres_url, victim, tmp_path / "run", time.monotonic() + 300)
    survivors = [worker(spec, "--no-final") for _ in range(2)]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for p in survivors:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]

    run = tmp_path / "run"
    records = read_records(run).trials()
    interrupted = [r for r in records if r["status"] == "interrupted"]
    assert [r["trial"] for r in interrupted] == [killed]
    assert interrupted[0]["reason"] == "worker died: no heartbeat for over 4 s"
    finished = finished_records(run)
    assert len(finished) == 4 and len({r["trial"] for r in finished}) == 4
    retry = [r for r in finished if r["retry_of"] == [killed]]
    assert len(retry) == 1 and retry[0]["params"] == interrupted[0]["params"]
    assert victim.pid not in {r["pid"] for r in finished}
    # nothing finished was run again: one trial folder per finished trial, plus the killed one's
    assert len(trial_dirs(run)) == 5
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    assert study.trials[killed].state == optuna.trial.TrialState.FAIL
    assert st.counts(study.get_trials())["finished"] == 4
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


def _wait_for_running_trial(url: str, proc: subprocess.Popen, run: Path, deadline: float) -> int:
    """The number of the trial ``proc`` is training (its worker attribute names its pid, and its
    folder exists: its parameters are all suggested)."""
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        try:
            study = optuna.load_study(study_name="shared", storage=url)
        except KeyError:  # not created yet
            time.sleep(0.5)
            continue
        for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            w = t.user_attrs.get(st.ATTR_WORKER) or {}
            if w.get("pid") == proc.pid and (run / "trials" / f"{t.number:04d}").is_dir():
                return t.number
        time.sleep(0.3)
    raise AssertionError("the worker never started a trial")
