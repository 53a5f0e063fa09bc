"""``pefomed inspect`` and ``pefomed ls adapters``."""
from __future__ import annotations

import json

from click.testing import CliRunner

from pefomed.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_inspect_json_reports_touched_modules_counts_and_size() -> None:
    result = _run("inspect", "tiny-llava", "--adapter", "lora", "--set", "r=4", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["settings"]["r"] == 4
    assert record["trainable_parameters"] == 4096 == record["trainable_by_part"]["language"]  # 8 x (4*64 + 64*4)
    assert len(record["touched_modules"]) == 8 and record["adapter_bytes"] == 4096 * 4  # tensor bytes, from shapes
    assert 0 < record["trainable_percent"] < 100


def test_inspect_table_with_parts_layers_and_projector() -> None:
    result = _run("inspect", "tiny-llava", "--adapter", "lora", "--parts", "vision,language",
                  "--layers", "all-linear", "--train-projector")
    assert result.exit_code == 0, result.output
    assert "model.vision_tower.encoder.layers.0.mlp.fc1" in result.output
    assert "projector" in result.output and "adapter size" in result.output


def test_inspect_bad_input_is_one_line_and_exit_2() -> None:
    for args, expected in [
        (("--adapter", "lroa"), "did you mean 'lora'"),
        (("--adapter", "lora", "--set", "r=0"), "r >= 1 must hold, but got r=0"),
        (("--adapter", "lora", "--set", "r"), "is not key=value"),
        (("--adapter", "prefix", "--parts", "vision"), "language model's attention only"),
    ]:
        result = CliRunner().invoke(main, ["inspect", "tiny-llava", *args])
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and expected in errors[0] and "Traceback" not in result.output


def test_ls_adapters_lists_the_catalogue() -> None:
    result = _run("ls", "adapters", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)["adapters"]}
    assert len(rows) == 14 and rows["qlora"]["peft_backed"] and not rows["adapter"]["peft_backed"]
    assert rows["prefix"]["parts"] == ["language"] and "learning_rate" in rows["lora"]["search_space"]
    assert "bottleneck" in _run("ls", "adapters").output.lower()


def test_ls_adapters_support_matrix_for_a_model() -> None:
    result = _run("ls", "adapters", "--model", "tiny-blip", "--json")
    matrix = json.loads(result.stdout)["matrix"]
    assert matrix["lora"]["language"] == {"ok": True, "reason": None}
    assert not matrix["lora"]["projector"]["ok"] and "no projector" in matrix["lora"]["projector"]["reason"]
    table = _run("ls", "adapters", "--model", "tiny-blip").output
    assert "has no projector part" in table and "(1)" in table
