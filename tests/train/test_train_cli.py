"""``pefomed train`` and ``pefomed eval`` on tiny-llava + synth-rad, and their one-line errors."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pefomed.cli import main

TINY = ["--model", "tiny-llava", "--dataset", "synth-rad"]


@pytest.fixture
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = CliRunner().invoke(main, ["train", *TINY, "--adapter", "lora", "--max-steps", "2",
                                       "--batch-size", "2", "--train-limit", "6", "--eval-limit", "4",
                                       "--device", "cpu", "--set", "r=4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_prints_a_summary_and_writes_the_run(run_dir):
    out, output = run_dir
    for word in ("stop: max_steps", "trainable params", "device seconds", "closed-lenient", "saved", str(out)):
        assert word in output, output
    assert {p.name for p in out.iterdir()} >= {"adapter", "run.json", "cost.json", "metrics.json"}
    run = json.loads((out / "run.json").read_text())
    assert run["spec"]["settings"] == {"r": 4} and run["spec"]["budget"]["max_steps"] == 2


def test_eval_reads_a_run_folder_and_prints_json(run_dir, tmp_path):
    out, _ = run_dir
    result = CliRunner().invoke(main, ["eval", "--adapter-dir", str(out), "--limit", "3", "--json",
                                       "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "tiny-llava" and data["n"] == 3 and "closed-lenient" in data["metrics"]
    assert len((tmp_path / "ev" / "predictions.jsonl").read_text().splitlines()) == 3


def test_eval_tables_of_a_bare_model():
    result = CliRunner().invoke(main, ["eval", *TINY, "--limit", "4"])
    assert result.exit_code == 0, result.output
    assert "closed-lenient" in result.output and "by answer_type" in result.output


@pytest.mark.parametrize("args, words", [
    (["train", *TINY, "--adapter", "lora", "--lr", "-1", "--batch-size", "0"], ["lr > 0", "batch_size >= 1"]),
    (["train", *TINY, "--adapter", "lroa"], ["lroa", "lora"]),
    (["train", *TINY, "--adapter", "lora", "--max-seconds", "-5"], ["max_seconds > 0"]),
    (["eval", *TINY, "--adapter-dir", "/no/such/dir"], ["is not a folder"]),
])
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path):
    out = ["--out", str(tmp_path / "o")] if args[0] == "train" else []
    result = CliRunner().invoke(main, [*args, *out])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for word in words:
        assert word in lines[0], lines[0]
