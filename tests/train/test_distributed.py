"""Data parallel on the CPU (gloo): 2 processes x batch B train like 1 process x batch 2B (answers
of different lengths, an empty last shard), rank 0 alone writes one run folder whose adapter loads
and scores, and a fault on one process stops both at the same step instead of hanging them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.train import ddp_worker

ROOT = Path(__file__).parents[2]
#: float32 sums in a different order (one batch of 4 vs two of 2 plus an all-reduce)
RTOL = 1e-5


def _two_processes(mode: str, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    # a process left waiting on a collective the other skipped would hang until the timeout
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(Path(ddp_worker.__file__)), mode, "2", str(out)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_double_batch(tmp_path):
    single = ddp_worker.run(4, str(tmp_path / "single"))
    out = tmp_path / "ddp"
    done = _two_processes("mixed", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(("ddp", ".ddp"))] == ["ddp"]  # one folder
    run = json.loads((out / "run.json").read_text())
    assert run["train"]["steps"] == ddp_worker.STEPS and run["train"]["samples"] == 29  # global samples
    assert run["train"]["losses"] == pytest.approx(single.train.losses, rel=RTOL)
    ddp_w, one_w = load_file(str(out / "adapter" / "adapter_model.safetensors")), \
        load_file(str(tmp_path / "single" / "adapter" / "adapter_model.safetensors"))
    for name, value in one_w.items():
        torch.testing.assert_close(ddp_w[name], value, rtol=RTOL, atol=1e-7)

    from pefomed.adapters import load_adapted
    from pefomed.evaluation import evaluate
    from pefomed.models.registry import create_model

    adapted = load_adapted(create_model("tiny-llava", seed=0), out / "adapter")
    scored = evaluate(adapted, ddp_worker.records()[:4], protocols="closed-lenient", bootstrap=0)
    assert scored.value("closed-lenient") == run["metrics"]["metrics"]["closed-lenient"]["value"]


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "stop"), [("oom", "max_memory_mb"), ("nan", "nan_loss")])
def test_a_fault_on_one_process_stops_both_at_the_same_step(tmp_path, fault, stop):
    out = tmp_path / "ddp"
    done = _two_processes(fault, out)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and run["stop_reason"] == stop
    assert run["train"]["steps"] == ddp_worker.FAULT_STEP - 1  # the faulty step is not taken
