"""A few training steps on the real VQA-RAD, then evaluation, end to end (slow)."""
from __future__ import annotations

import json

import pytest

from pefomed.data import load_dataset
from pefomed.train import Budget, RunSpec, TrainConfig, run_finetune


@pytest.mark.slow
@pytest.mark.vqarad
def test_train_and_eval_on_real_vqa_rad(vqa_rad_root, tmp_path):
    train_split = load_dataset("vqa-rad", "train", limit=16, seed=0)
    eval_split = load_dataset("vqa-rad", "test", limit=8, seed=0)
    assert len(train_split) == 16 and len(eval_split) == 8
    spec = RunSpec(model="tiny-llava", dataset="vqa-rad", adapter="lora", train_limit=16, eval_limit=8,
                   train=TrainConfig(batch_size=4, device="cpu", dtype="fp32"), budget=Budget(max_steps=3),
                   out_dir=str(tmp_path / "run"))
    record = run_finetune(spec, progress=False)
    assert record.status == "ok" and record.train.steps == 3 and record.train.samples == 12
    assert record.datasets["train"]["fingerprint"] == train_split.fingerprint
    assert record.datasets["eval"]["fingerprint"] == eval_split.fingerprint
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 8 and 0.0 <= metrics["metrics"]["overall-exact"]["value"] <= 1.0
    assert len((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()) == 8
