"""`pefomed ls ...`: the catalogue as users and scripts see it."""
from __future__ import annotations

import json

from click.testing import CliRunner

from pefomed.cli import main

EXPECTED_ADAPTERS = {"lora", "dora", "qlora", "ia3", "prefix", "prompt", "adapter", "loha", "lokr",
                     "vera", "adalora", "ln", "full", "frozen"}
EXPECTED_FAMILIES = {"llava", "qwen2-vl", "qwen2.5-vl", "idefics3", "smolvlm", "paligemma", "gemma3",
                     "blip2", "blip", "vilt"}


def _json(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_ls_models_lists_every_family_with_a_tiny_variant():
    out = _json("ls", "models")
    families = {f["family"]: f for f in out["families"]}
    assert EXPECTED_FAMILIES <= set(families)
    for name in EXPECTED_FAMILIES:
        assert families[name]["tiny"], f"family {name} has no tiny variant"
    names = {m["name"] for m in out["models"]}
    assert "medvlm-tiny" in names and "tiny-llava" in names


def test_ls_adapters_lists_the_fourteen_catalogue_entries_with_bottleneck_presets():
    out = _json("ls", "adapters")
    entries = out["adapters"] if isinstance(out, dict) else out
    by_name = {e["name"]: e for e in entries}
    assert set(by_name) == EXPECTED_ADAPTERS
    assert {"houlsby", "pfeiffer"} <= set(by_name["adapter"]["presets"])
    for entry in entries:
        assert entry["description"]


def test_ls_datasets_lists_builtin_and_real_datasets():
    out = _json("ls", "datasets")
    rows = {r["name"]: r for r in out["datasets"]}
    assert {"vqa-rad", "slake", "pathvqa", "synth-rad"} <= set(rows)
    assert rows["synth-rad"]["needs_root"] is False


def test_unknown_model_is_one_line_exit_2_with_suggestion():
    result = CliRunner().invoke(main, ["ls", "adapters", "--model", "tiny-lava"])
    assert result.exit_code == 2
    assert "did you mean 'tiny-llava'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
