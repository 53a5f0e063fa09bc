"""Model cards: every saved adapter gets one, and its plain peft + transformers snippet really works."""
from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from pefomed.export.card import adapter_card, export_card

from tests.export.conftest import QUESTIONS


def python_block(card: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    assert len(blocks) == 1, card
    return blocks[0]


def run_snippet(code: str, **constants: str) -> str:
    """Execute the snippet as printed (constants replaced) and return the answer it prints.

    In-process to keep the suite fast: the snippet imports only torch, PIL, peft and
    transformers (asserted by the callers), and pefomed patches none of them.
    """
    for name, value in constants.items():
        code, n = re.subn(rf"^{name} = .*$", f"{name} = {json.dumps(value)}", code, count=1, flags=re.M)
        assert n == 1, f"{name} is not a constant of the snippet"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<model card snippet>", "exec"), {"__name__": "__snippet__"})
    return printed.getvalue().strip().splitlines()[-1] if printed.getvalue().strip() else ""


@pytest.mark.slow
def test_run_card_states_data_metrics_and_both_snippets_give_pefomed_answers(images, tmp_path):
    from click.testing import CliRunner

    from pefomed.cli import main

    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--model", "medvlm-tiny", "--adapter", "lora", "--max-steps", "2",
                                       "--batch-size", "2", "--train-limit", "8", "--eval-limit", "6",
                                       "--no-feature-cache", "--out", str(run), "--json"])
    assert result.exit_code == 0, result.output
    card = (run / "adapter" / "README.md").read_text()
    record = json.loads((run / "run.json").read_text())
    fingerprint = record["datasets"]["train"]["fingerprint"]
    assert f"fingerprint `{fingerprint}`" in card and "synth-rad/train: 8 records" in card
    assert "| closed-lenient |" in card and "steps, lr" in card
    assert "library_name: peft" in card and "Question: {question} Answer:" in card
    result = CliRunner().invoke(main, ["predict", "--adapter-dir", str(run), "--image", str(images[1]),
                                       "--question", QUESTIONS[1], "--json"])
    assert result.exit_code == 0, result.output
    expected = json.loads(result.stdout)[0]["answer"]
    assert expected  # a real answer to compare, not two empty strings
    # the plain peft + transformers snippet, as printed: BASE is the shipped medvlm-tiny folder
    code = python_block(card)
    assert "from peft import PeftModel" in code and "pefomed" not in code.replace("pefomed/assets", "")
    assert run_snippet(code, ADAPTER=str(run / "adapter"), IMAGE=str(images[1]), QUESTION=QUESTIONS[1]) == expected

    result = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    assert "AutoModelForImageTextToText" in result.output
    merged_card = (tmp_path / "merged" / "README.md").read_text()
    code = python_block(merged_card)
    assert "peft" not in code and "pefomed" not in code
    assert run_snippet(code, BASE=str(tmp_path / "merged"), IMAGE=str(images[1]), QUESTION=QUESTIONS[1]) == expected


def test_cards_are_pure_functions_of_records():
    record = {"method": "adapter", "model": "tiny-qwen2-vl", "family": "qwen2-vl", "parts": ["language"],
              "layers": "attention", "settings": {"preset": "houlsby"}, "train_projector": False,
              "peft_backed": False, "trainable_parameters": 10}
    card = adapter_card(record)
    assert r"<\|vision_start\|><\|image_pad\|><\|vision_end\|>Question: {question} Answer:" in card
    assert "not a peft method" in card and "```python" not in card
    run = {"spec": {"seed": 3, "train": {"lr": 0.1, "batch_size": 2}}, "stop_reason": "max_steps",
           "cost": {"steps": 5}, "datasets": {"train": {"dataset": "d", "split": "train", "n": 4, "closed": 2,
                                                         "open": 2, "fingerprint": "abc"}},
           "metrics": {"n": 4, "protocols": {"closed-lenient": "exact match on closed questions"},
                       "metrics": {"closed-lenient": {"value": 0.5, "ci95": [0.0, 1.0], "n": 2}}}}
    card = adapter_card({**record, "method": "lora", "peft_backed": True, "family": "blip", "model": "tiny-blip"},
                        run=run)
    assert "| closed-lenient | 0.500 | 0.000-1.000 | 2 | exact match on closed questions |" in card
    assert "fingerprint `abc`" in card and "seed 3" in card
    assert "AutoModelForVisualQuestionAnswering" in card and "decode(out[0], " in card
    assert "images=[[image]]" in export_card({**record, "family": "idefics3", "method": "lora"})
