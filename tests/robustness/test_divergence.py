"""Training that diverges (a huge learning rate) stops with a reason, as a NaN loss does, and
the run is recorded as failed instead of scoring empty answers as ok."""
from __future__ import annotations

import json
import math

import pytest

from pefomed.train import Budget, TrainConfig
from pefomed.train.budget import FAILURE_REASONS
from pefomed.train.loop import train

from .conftest import TINY, cli


@pytest.mark.parametrize("lr", [1e6, 1e4])
def test_a_huge_learning_rate_stops_as_diverged(tiny_adapted, records, lr):
    result = train(tiny_adapted, records * 2, TrainConfig(lr=lr, batch_size=2, device="cpu"),
                   Budget(max_steps=12), progress=False)
    assert result.stop_reason in ("diverged", "nan_loss") and result.failed
    assert result.stop_reason in FAILURE_REASONS


def test_a_sane_learning_rate_is_not_stopped(tiny_adapted, records):
    result = train(tiny_adapted, records * 2, TrainConfig(lr=1e-3, batch_size=2, device="cpu"),
                   Budget(max_steps=8), progress=False)
    assert result.stop_reason == "max_steps" and all(math.isfinite(x) for x in result.losses)


def test_cli_records_the_diverged_run_as_failed(tmp_path):
    out = tmp_path / "run"
    result = cli("train", *TINY, "--adapter", "lora", "--lr", "1e6", "--max-steps", "12",
                 "--batch-size", "2", "--train-limit", "8", "--eval-limit", "2", "--out", out)
    assert result.exit_code == 1, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and run["stop_reason"] in ("diverged", "nan_loss")
    assert not (out / "adapter").exists()  # a diverged adapter is not saved as a result
