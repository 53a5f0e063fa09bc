"""One small run for the data-parallel test: ``python -m torch.distributed.run ... ddp_worker.py B OUT``."""
from __future__ import annotations

import sys

from pefomed.train import Budget, RunSpec, TrainConfig, run_finetune
from tests.train.conftest import make_records


def records() -> list:
    # equal answer lengths on every rank make the per-rank token means average to the global
    # mean exactly (see pefomed.train.distributed); dropout off so no RNG stream differs
    return [r for r in make_records(32) if r.answer == "yes"]


def run(batch_size: int, out: str):
    spec = RunSpec(model="tiny-llava", dataset="in-memory", adapter="lora",
                   settings={"r": 4, "lora_dropout": 0.0},
                   train=TrainConfig(batch_size=batch_size, lr=1e-2, device="cpu", dtype="fp32"),
                   budget=Budget(max_steps=4), protocols=("closed-lenient",), out_dir=out)
    data = records()
    return run_finetune(spec, progress=False, train_data=data, eval_data=data[:4])


if __name__ == "__main__":
    run(int(sys.argv[1]), sys.argv[2])
