"""Sweep specs: a search-space entry whose fields do not fit its type, and fixed settings that
break the method's rules, are refused when the spec is read, not replaced or found in a trial."""
from __future__ import annotations

import pytest
import yaml

from pefomed.sweep.spec import SpecError
from pefomed.sweep.validate import parse_spec

from .conftest import cli


def _spec(adapter: dict) -> dict:
    return {"name": "t", "model": "tiny-llava", "dataset": {"name": "synth-rad"},
            "adapters": [adapter], "budget": {"max_steps": 2}, "n_trials": 1}


@pytest.mark.parametrize("adapter, words", [
    # lora's catalogue r is categorical: low/high would be silently ignored
    ({"name": "lora", "search_space": {"r": {"low": 2, "high": 6}}}, ["search_space.r", "type:", "categorical"]),
    # no catalogue entry to inherit a type from
    ({"name": "lora", "search_space": {"lora_alpha": {"low": 2, "high": 6}}}, ["lora_alpha", "type:"]),
    ({"name": "ia3", "search_space": {"learning_rate": {"choices": [1e-3, 1e-2]}}}, ["learning_rate", "type:"]),
    ({"name": "lora", "settings": {"r": -1}}, ["settings.r", "r >= 1", "-1"]),
    ({"name": "lora", "settings": {"lora_dropout": 2}}, ["settings.lora_dropout", "lora_dropout < 1"]),
    ({"name": "lora", "settings": {"bias": "some"}}, ["settings.bias"]),
    ({"name": "adalora", "settings": {"init_r": 4, "target_r": 8}}, ["settings", "target_r"]),
    ({"name": "lora", "settings": {"learning_rate": -1}}, ["settings.learning_rate", "> 0"]),
])
def test_bad_entries_are_refused_naming_the_field(adapter, words):
    with pytest.raises(SpecError) as info:
        parse_spec(_spec(adapter))
    message = "\n".join(info.value.problems)
    for word in words:
        assert word.lower() in message.lower(), message


def test_bounds_that_fit_the_inherited_type_still_override_it():
    spec = parse_spec(_spec({"name": "ia3", "search_space": {"learning_rate": {"low": 1e-2, "high": 1e-1}}}))
    hp = spec.adapters[0].search_space["learning_rate"]
    assert (hp.type, hp.low, hp.high, hp.log) == ("float", 1e-2, 1e-1, True)
    spec = parse_spec(_spec({"name": "lora", "search_space": {"r": {"type": "int", "low": 2, "high": 6}}}))
    assert spec.adapters[0].search_space["r"].type == "int"


def test_cli_refuses_before_any_trial(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_spec({"name": "lora", "settings": {"r": -1}})))
    run_dir = tmp_path / "run"
    result = cli("sweep", path, "--run-dir", run_dir)
    # a spec lists every problem at once: one headline, then one line per problem
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2, result.output
    assert "adapters[0].settings.r" in result.output and "Traceback" not in result.output
    assert not run_dir.exists()
