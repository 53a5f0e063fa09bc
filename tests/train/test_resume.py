"""Checkpoints and --resume: a run killed with SIGKILL (or stopped by SIGINT) and resumed ends
exactly where an uninterrupted run ends: same losses, same adapter weights, budgets counted once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file

from pefomed.cli import main
from pefomed.train import checkpoint as ckpt
from pefomed.train.run_dir import MARKER, is_complete

# 8 records / batch 2 = 4 steps an epoch: 8 steps cross an epoch boundary after the kill at 5
ARGS = ["train", "--model", "tiny-llava", "--dataset", "synth-rad", "--max-steps", "8",
        "--batch-size", "2", "--train-limit", "8", "--eval-limit", "2", "--protocols", "closed-lenient",
        "--device", "cpu", "--dtype", "fp32", "--lr", "0.01", "--save-every", "3", "--keep-last", "1"]

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pefomed.train.session import Session
    after = Session.after_step
    def after_step(self, info, snapshot):
        out = after(self, info, snapshot)
        if info.step == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    Session.after_step = after_step
    from pefomed.cli import main
    main(sys.argv[1:])
""")


def _child(args: list[str], kill_at: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, KILL_AT=str(kill_at),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _weights(run: Path) -> dict:
    return load_file(str(run / "adapter" / "adapter_model.safetensors"))


def _same_run(a: Path, b: Path) -> None:
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    assert ra["train"]["losses"] == rb["train"]["losses"] and len(ra["train"]["losses"]) == 8
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight") / "run"
    result = CliRunner().invoke(main, [*ARGS, "--adapter", "lora", "--set", "r=4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_run(straight, tmp_path):
    out = tmp_path / "run"
    killed = _child([*ARGS, "--adapter", "lora", "--set", "r=4", "--out", str(out)], kill_at=5)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (out / MARKER).is_file() and not is_complete(out)
    assert [p.name for p in ckpt.checkpoint_dirs(out)] == ["step-3"]
    spent = json.loads((out / "spend.json").read_text())
    assert spent["step"] == 5  # steps 4-5 are lost work, but their seconds were spent

    resumed = CliRunner().invoke(main, ["train", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert is_complete(out)
    _same_run(straight, out)
    run = json.loads((out / "run.json").read_text())
    assert run["train"]["cost"]["device_seconds"] > spent["device_seconds"]
    assert run["train"]["steps"] == 8 and run["train"]["samples"] == 16
    logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert logged == list(range(1, 9))  # the killed steps' lines were replaced, not duplicated
    assert [p.name for p in ckpt.checkpoint_dirs(out)] == ["step-8"]  # keep_last=1


@pytest.mark.slow
def test_sigint_writes_a_checkpoint_and_resume_continues_adalora(tmp_path, monkeypatch):
    import threading

    from pefomed.train.session import Session

    args = [*ARGS, "--adapter", "adalora", "--set", "init_r=4", "--set", "target_r=2", "--set", "tinit=1",
            "--set", "tfinal=2", "--set", "deltaT=1", "--save-every", "100"]
    straight = tmp_path / "straight"
    ok = CliRunner().invoke(main, [*args, "--out", str(straight)])
    assert ok.exit_code == 0, ok.output
    assert threading.current_thread() is threading.main_thread()  # where the handler is installed
    after = Session.after_step

    def after_step(self, info, snapshot):  # a real SIGINT in the middle of the run
        if info.step == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return after(self, info, snapshot)

    monkeypatch.setattr(Session, "after_step", after_step)
    out = tmp_path / "run"
    stopped = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert stopped.exit_code == 130, stopped.output
    assert f"continue with: pefomed train --resume {out}" in stopped.output
    assert [p.name for p in ckpt.checkpoint_dirs(out)] == ["step-4"]  # written on the signal
    monkeypatch.setattr(Session, "after_step", after)
    resumed = CliRunner().invoke(main, ["train", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    _same_run(straight, out)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_resume_needs_a_checkpoint_and_a_new_run_refuses_an_unfinished_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("adapter: lora\nmodel: tiny-llava\ndataset: synth-rad\n")
    (out / MARKER).write_text("{}")
    result = CliRunner().invoke(main, ["train", "--resume", str(out)])
    assert result.exit_code == 2 and "no checkpoint to resume from" in result.output, result.output
    again = CliRunner().invoke(main, [*ARGS, "--adapter", "lora", "--set", "r=4", "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output, again.output
