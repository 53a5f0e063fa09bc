"""adapters/<method>.yaml: every method has valid presets and a search space; bad files are caught."""
from __future__ import annotations

import shutil

import pytest
import yaml

from pefomed.adapters import get_adapter, list_adapters
from pefomed.adapters.catalogue import catalogue_data
from pefomed.adapters.spaces import DIM_KEYS, TRAINING_PARAMS
from pefomed.errors import PefomedError
from pefomed.models.base import PARTS
from pefomed.settings import adapters_dir

EXPECTED = {"lora", "dora", "qlora", "ia3", "prefix", "prompt", "adapter", "loha", "lokr", "vera", "adalora",
            "ln", "full", "frozen"}


def test_catalogue_has_the_fourteen_methods() -> None:
    assert set(list_adapters()) == EXPECTED
    assert {f.stem for f in adapters_dir().glob("*.yaml")} == EXPECTED


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_every_method_file_is_complete(method: str) -> None:
    entry = get_adapter(method)
    assert entry.description and "\n" not in entry.description
    assert set(entry.parts) <= set(PARTS)
    assert set(entry.defaults) == set(entry.params)
    assert entry.resolve_settings(None) == entry.defaults
    for name, dim in entry.search_space.items():
        assert tuple(dim) == DIM_KEYS and (name in entry.params or name in TRAINING_PARAMS)
        for choice in dim["choices"] or []:  # every choice is a valid setting on its own
            if name in entry.params:
                assert entry.resolve_settings({name: choice})[name] == choice
    if method != "frozen":
        assert entry.search_space["learning_rate"]["log"] and entry.train_defaults["learning_rate"] > 0


def test_bottleneck_presets() -> None:
    entry = get_adapter("adapter")
    assert set(entry.presets) == {"houlsby", "pfeiffer"}
    assert entry.resolve_settings(None)["non_linearity"] == "swish"  # the default preset is houlsby
    pfeiffer = entry.resolve_settings({"preset": "pfeiffer", "reduction_factor": 8})
    assert (pfeiffer["non_linearity"], pfeiffer["reduction_factor"]) == ("relu", 8)  # explicit settings win


def test_float_settings_accept_yaml_exponent_strings() -> None:
    # YAML reads `1e-3` (no dot) as a string; `--set lora_alpha=1e1` must still work
    assert get_adapter("lora").resolve_settings({"lora_alpha": "1e1"})["lora_alpha"] == 10.0


def test_every_problem_in_every_file_is_reported_at_once(tmp_path, monkeypatch) -> None:
    for f in adapters_dir().glob("*.yaml"):
        shutil.copy(f, tmp_path)
    (tmp_path / "frozen.yaml").unlink()
    (tmp_path / "lorra.yaml").write_text("description: typo\n")
    lora = yaml.safe_load((tmp_path / "lora.yaml").read_text())
    lora["defaults"]["r"] = 0
    lora["descripton"] = "typo"
    lora["search_space"]["lora_dropout"] = {"type": "float", "low": 0.2, "high": 0.1}
    lora["search_space"]["r"] = {"type": "int", "low": 0, "high": 8, "log": True}
    lora["search_space"]["lora_alpha"] = {"type": "float", "low": 1, "high": 8, "log": True, "step": 1}
    lora["search_space"]["rank"] = {"type": "categorical", "choices": [1]}
    (tmp_path / "lora.yaml").write_text(yaml.safe_dump(lora))
    prefix = yaml.safe_load((tmp_path / "prefix.yaml").read_text())
    prefix["parts"] = ["vision", "language"]
    (tmp_path / "prefix.yaml").write_text(yaml.safe_dump(prefix))
    monkeypatch.setenv("PEFOMED_ADAPTERS_DIR", str(tmp_path))

    with pytest.raises(PefomedError) as info:
        catalogue_data()
    message = str(info.value)
    assert "\n" not in message
    for expected in (
        "frozen.yaml: missing",
        "lorra.yaml: unknown adapter method 'lorra'; did you mean 'lora'",
        "lora.yaml: unknown field 'descripton'; did you mean 'description'",
        "lora.yaml: defaults: r >= 1 must hold, but got r=0",
        "lora.yaml: search_space.lora_dropout: low <= high must hold, but got (low=0.2, high=0.1)",
        "lora.yaml: search_space.r.low: r >= 1 must hold, but got r=0",
        "lora.yaml: search_space.lora_alpha: step and log cannot be combined",
        "lora.yaml: search_space.rank: unknown setting 'rank'",
        "prefix.yaml: parts: prefix cannot target 'vision'",
    ):
        assert expected in message, expected


def test_a_missing_folder_says_where_to_point(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PEFOMED_ADAPTERS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(PefomedError, match="PEFOMED_ADAPTERS_DIR"):
        catalogue_data()
