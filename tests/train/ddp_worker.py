"""Small runs for the data-parallel tests: ``python -m torch.distributed.run ... ddp_worker.py MODE B OUT``.

MODE ``mixed``: answers of different token lengths and a record count that leaves the last
step's second shard empty. ``oom`` / ``nan``: process 1 runs out of memory / gets a NaN loss on
its ``FAULT_STEP``-th step while process 0 trains on.
"""
from __future__ import annotations

import os
import sys

import torch

from pefomed.train import Budget, RunSpec, TrainConfig, run_finetune
from pefomed.train.step import StepRunner, StepStats
from tests.train.conftest import make_records

STEPS = 8
FAULT_STEP = 3


def records() -> list:
    # 29 = 7 steps of 4 + one record: on 2 processes the last step's second shard is empty;
    # answers "yes", "liver", "two", "no" differ in token count, so the processes' token means
    # combine to the single-process mean only when weighted by their tokens
    return make_records(29)


def run(batch_size: int, out: str):
    # dropout off so no RNG stream differs between 1 and 2 processes
    spec = RunSpec(model="tiny-llava", dataset="in-memory", adapter="lora",
                   settings={"r": 4, "lora_dropout": 0.0},
                   train=TrainConfig(batch_size=batch_size, lr=1e-2, device="cpu", dtype="fp32", epochs=1),
                   budget=Budget(max_steps=STEPS), protocols=("closed-lenient",), out_dir=out)
    data = records()
    return run_finetune(spec, progress=False, train_data=data, eval_data=data[:4])


def inject_fault(kind: str, rank: int) -> None:
    """Make ``rank``'s FAULT_STEP-th backward fail the way a real device or model would."""
    original = StepRunner.backward
    calls = {"n": 0}

    def backward(self, group, micro_batch_size):
        calls["n"] += 1
        if int(os.environ["RANK"]) == rank and calls["n"] == FAULT_STEP:
            if kind == "oom":
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
            return StepStats(float("nan"), 0, len(group), 1.0)
        return original(self, group, micro_batch_size)

    StepRunner.backward = backward


if __name__ == "__main__":
    mode, batch, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode in ("oom", "nan"):
        inject_fault(mode, rank=1)
    run(batch, folder)
