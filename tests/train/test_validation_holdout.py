"""Evaluation while training on a file without splits: the validation part is held out of the
training records by image, never drawn from them."""
from __future__ import annotations

import json

from pefomed.train import Budget, RunSpec, TrainConfig, run_finetune
from pefomed.train.control import RunControl

from .conftest import make_records


def test_validation_of_a_file_without_splits_is_held_out_of_training(tmp_path):
    rows = []
    for i, r in enumerate(make_records(40, images=20)):
        path = tmp_path / f"{r.image_id}.png"
        if not path.exists():
            r.image.save(path)
        rows.append({"image": path.name, "question": r.question, "answer": r.answer})
    data = tmp_path / "mine.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows))
    spec = RunSpec(model="tiny-llava", dataset=str(data), adapter="lora", eval_limit=4,
                   train=TrainConfig(batch_size=2, device="cpu", dtype="fp32"), budget=Budget(max_steps=2),
                   control=RunControl(eval_every=2, val_limit=4), holdout_fraction=0.2,
                   out_dir=str(tmp_path / "run"))
    record = run_finetune(spec, progress=False)
    sets = record.datasets
    assert sets["validation"]["n"] == 4
    assert sets["train"]["n"] + sets["eval"]["n"] < 40  # the validation part left the training part
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["datasets"]["train"]["fingerprint"] != run["datasets"]["validation"]["fingerprint"]
