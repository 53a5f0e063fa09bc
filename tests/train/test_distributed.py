"""Data parallel on the CPU (gloo): 2 processes x batch B train like 1 process x batch 2B, and
rank 0 alone writes one run folder whose adapter loads and scores."""
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


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_double_batch(tmp_path):
    single = ddp_worker.run(4, str(tmp_path / "single"))
    out = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(Path(ddp_worker.__file__)), "2", str(out)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(("ddp", ".ddp"))] == ["ddp"]  # one folder
    run = json.loads((out / "run.json").read_text())
    assert run["train"]["steps"] == 4 and run["train"]["samples"] == 16  # global samples, 4 a step
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
