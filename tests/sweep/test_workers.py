"""`pefomed sweep --workers N [--devices ...]`, and storage URLs whose driver is missing."""
from __future__ import annotations

import json
import sys

import pytest
import yaml
from click.testing import CliRunner

from pefomed.cli import main
from pefomed.errors import PefomedError
from pefomed.sweep.launch import parse_devices, worker_env
from pefomed.sweep.records import read_records
from pefomed.sweep.study import normalize_url, redact


@pytest.mark.slow
def test_workers_flag_runs_n_isolated_workers_then_one_final_report(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "w", "model": "tiny-llava",
        "dataset": {"name": "synth-rad", "train_limit": 16, "eval_limit": 8, "report_limit": 8},
        "adapters": ["lora", "ia3"], "budget": {"max_seconds": 2}, "train": {"batch_size": 4},
        "objectives": {"accuracy": "token-f1", "cost": "peak_memory_mb"}, "n_trials": 4, "seed": 0,
        "run_dir": str(tmp_path / "run"), "execution": {"isolation": "process"},
    }))
    result = CliRunner().invoke(main, ["sweep", str(spec), "--workers", "2", "--no-live"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    trials = [r for r in read_records(run).trials() if r["status"] in ("complete", "failed")]
    assert len(trials) == 4 and len({r["trial"] for r in trials}) == 4
    assert len({r["pid"] for r in trials}) == 2  # two worker processes shared the study
    assert all(r["cost"]["peak_memory_mb"] > 0 for r in trials if r["status"] == "complete")
    lines = result.output.splitlines()
    assert any(line.startswith("[w0] trial") for line in lines)
    assert any(line.startswith("[w1] trial") for line in lines)
    assert "4 trial(s) run by 2 workers" in result.output
    finals = read_records(run).finals()
    assert finals and len({r["trial"] for r in finals}) == len(finals)  # scored once, by the launcher
    assert json.loads((run / "summary.json").read_text())["counts"]["complete"] >= 1


def test_each_worker_sees_one_device_and_a_share_of_the_threads():
    envs = [worker_env(i, 3, ["0", "1"], base={}) for i in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]
    assert all(int(e["OMP_NUM_THREADS"]) >= 1 for e in envs)
    assert [e["PEFOMED_WORKER_INDEX"] for e in envs] == ["0", "1", "2"]
    assert "CUDA_VISIBLE_DEVICES" not in worker_env(0, 2, [], base={})
    assert worker_env(0, 2, [], base={"OMP_NUM_THREADS": "7"})["OMP_NUM_THREADS"] == "7"  # the user's wins
    assert parse_devices("0, 1,2") == ["0", "1", "2"]
    with pytest.raises(PefomedError, match="names no device"):
        parse_devices(" , ")


def test_missing_postgres_driver_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(PefomedError, match=r"needs the database driver 'psycopg'.*pefomed\[postgres\]"):
        normalize_url("postgresql://me@db.example/sweeps")
    result = CliRunner().invoke(main, ["sweep", "--storage", "postgres://me:pw@db.example/sweeps",
                                       "--run-dir", str(tmp_path / "run"), "--no-live"])
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "pip install 'pefomed[postgres]'" in error[0]
    assert "pw" not in result.output  # the password is never printed
    assert not (tmp_path / "run" / "trials").exists()


def test_postgres_scheme_alias_and_password_redaction():
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    assert redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_the_spec_workers_receive_reads_back_as_the_same_spec(tmp_path):
    from dataclasses import replace

    from pefomed.sweep.validate import parse_spec

    from .conftest import make_spec

    spec = make_spec(tmp_path, adapters=[{"name": "lora", "search_space": {"lora_dropout": None}}, "ia3"],
                     family="llava", prompt_template="plain", execution={"isolation": "none"})
    again = parse_spec(json.loads(json.dumps(spec.to_raw())), where=spec.source)
    assert again == replace(spec)
    assert "lora_dropout" not in again.adapters[0].search_space  # a removal stays removed


def test_a_trial_that_removed_its_folder_and_raised_is_a_failed_trial(tmp_path):
    import shutil

    from pefomed.sweep.objective import TrialContext, run_guarded
    from pefomed.sweep.space import TrialConfig

    from .conftest import make_spec

    def runner(config, ctx):
        shutil.rmtree(ctx.out_dir)  # what a failed run_finetune does with the folder it made
        raise RuntimeError("CUDA out of memory")

    ctx = TrialContext(make_spec(tmp_path), 0, tmp_path / "trial", None)
    outcome = run_guarded(runner, TrialConfig(method="lora", label="lora"), ctx)
    assert (outcome.status, outcome.reason) == ("failed", "out of memory: RuntimeError: CUDA out of memory")
    assert "CUDA out of memory" in (tmp_path / "trial" / "error.txt").read_text()
