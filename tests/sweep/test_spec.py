"""Sweep spec: loading, overrides, and validation that reports every problem at once."""
from __future__ import annotations

import pytest

from pefomed.errors import PefomedError
from pefomed.sweep.hparams import HyperParam
from pefomed.sweep.spec import DEFAULT_SPEC, SpecError, load_spec, set_path
from pefomed.sweep.validate import parse_spec
from tests.sweep.conftest import raw_spec


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(raw, where="spec.yaml")
    return info.value.problems


def test_default_spec_is_valid_and_big_enough():
    spec = load_spec()
    assert spec.model == "medvlm-tiny" and spec.dataset.name == "synth-rad"
    names = [a.name for a in spec.adapters]
    assert {"frozen", "full"} <= set(names) and len(set(names) - {"frozen", "full"}) >= 5
    assert spec.n_trials >= len(names)
    assert spec.dataset.search_split == "validation" and spec.dataset.report_split == "test"
    assert spec.storage_url.startswith("sqlite:///") and spec.storage_url.endswith("study.db")


def test_example_specs_in_sweeps_folder_are_valid():
    from pefomed.settings import PROJECT_ROOT

    files = sorted((PROJECT_ROOT / "sweeps").glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        assert load_spec(f).adapters


def test_overrides_reach_every_level(tmp_path):
    spec = load_spec(DEFAULT_SPEC, {"budget.max_steps": 5, "n_trials": 12, "dataset.eval_limit": 4,
                                    "adapters.3.settings.r": 4, "storage": "sqlite:///x.db", "study": "s"})
    assert spec.budget == {"max_steps": 5}
    assert spec.n_trials == 12 and spec.dataset.eval_limit == 4
    lora = spec.adapters[3]
    assert lora.name == "lora" and lora.settings == {"r": 4} and "r" not in lora.search_space
    assert spec.storage_url == "sqlite:///x.db" and spec.study_name == "s"


def test_set_path_lists_and_bad_index():
    raw = {"adapters": ["lora", {"name": "ia3"}]}
    set_path(raw, "adapters.0.label", "l1")
    assert raw["adapters"][0] == {"name": "lora", "label": "l1"}
    with pytest.raises(PefomedError, match="use an index 0..1"):
        set_path(raw, "adapters.5.name", "x")


def test_unknown_names_get_did_you_mean():
    raw = raw_spec(model="tiny-lava", adapters=["lorra", "ia3"], sampler="tpee", budgett={"max_steps": 1},
                   objectives={"accuracy": "closed-lenint", "cost": "device_second"})
    raw["dataset"] = {"name": "synth-rd"}
    text = "\n".join(problems_of(raw))
    for expected in ("'tiny-llava'", "'lora'", "'tpe'", "'budget'", "'closed-lenient'", "'device_seconds'",
                     "'synth-rad'"):
        assert f"did you mean {expected}" in text, expected


def test_every_error_reported_at_once_one_line_each():
    raw = raw_spec(n_trials=0, seed=-1, storage="not-a-url", timeout=-5)
    raw["budget"] = {"max_steps": -3, "max_stepz": 4}
    raw["train"] = {"lr": {"low": 1e-2, "high": 1e-4, "log": True}, "batch_size": 0}
    raw["adapters"] = ["lora", {"name": "lora"}, {"name": "ia3", "parts": ["visoin"], "layers": "mlpp",
                                                  "search_space": {"rr": {"type": "int"}}}]
    raw["dataset"] = {"name": "synth-rad", "report_split": "validation", "eval_limit": 0}
    problems = problems_of(raw)
    fields = [p.split(":", 1)[0] for p in problems]
    for field in ("n_trials", "seed", "storage", "timeout", "budget", "budget.max_stepz", "train.lr",
                  "train.batch_size", "adapters", "adapters[2].parts", "adapters[2].layers",
                  "adapters[2].search_space.rr", "dataset.report_split", "dataset.eval_limit"):
        assert field in fields, (field, problems)
    assert all("\n" not in p for p in problems)
    assert "low <= high must hold, but got (low=0.01, high=0.0001)" in "\n".join(problems)


def test_spec_error_message_lists_each_problem_on_its_own_line():
    with pytest.raises(PefomedError) as info:
        parse_spec(raw_spec(n_trials=0, sampler="x"), where="my.yaml")
    lines = str(info.value).splitlines()
    assert lines[0] == "my.yaml: 2 problems in the sweep spec"
    assert lines[1].startswith("  - n_trials:") and lines[2].startswith("  - sampler:")


def test_n_trials_must_cover_every_method():
    problems = problems_of(raw_spec(n_trials=2))
    assert any("n_trials >= number of adapters must hold" in p and "(n_trials=2, adapters=3)" in p
               for p in problems)


def test_needs_n_trials_or_timeout():
    raw = raw_spec()
    del raw["n_trials"]
    assert any("set n_trials or timeout" in p for p in problems_of(raw))
    raw["timeout"] = 60
    assert parse_spec(raw).timeout == 60.0


def test_fixed_settings_leave_search_and_space_overrides_merge():
    raw = raw_spec(adapters=[{"name": "lora", "settings": {"lora_alpha": 8.0},
                              "search_space": {"r": {"choices": [2, 4]}, "learning_rate": {"high": 1e-2},
                                               "lora_dropout": None}}])
    spec = parse_spec(raw)
    space = spec.adapters[0].search_space
    assert "lora_alpha" not in space and "lora_dropout" not in space
    assert space["r"] == HyperParam("categorical", choices=(2, 4))
    assert space["learning_rate"].low == 1e-5 and space["learning_rate"].high == 1e-2 and space["learning_rate"].log


def test_unknown_setting_and_duplicate_label_are_reported():
    raw = raw_spec(adapters=[{"name": "lora", "settings": {"lora_alph": 4}}, "lora", "ia3"])
    text = "\n".join(problems_of(raw))
    assert "adapters[0].settings.lora_alph" in text and "did you mean" in text
    assert "label 'lora' appears 2 times" in text


def test_grid_needs_finite_spaces():
    problems = problems_of(raw_spec(sampler="grid"))
    assert any("lora.learning_rate" in p and "finite" in p for p in problems)
    raw = raw_spec(sampler="grid", train={"lr": 1e-3, "batch_size": 4},
                   adapters=[{"name": "lora", "search_space": {"lora_dropout": None}}, "frozen"])
    raw.pop("n_trials")
    spec = parse_spec(raw)
    assert spec.sampler == "grid"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(PefomedError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(PefomedError, match=r"bad.yaml:\d+: not valid YAML"):
        load_spec(bad)


def test_comparability_key_ignores_run_control(tmp_path):
    a = parse_spec(raw_spec(n_trials=6))
    b = parse_spec(raw_spec(n_trials=9, storage="sqlite:///other.db", timeout=10))
    c = parse_spec(raw_spec(budget={"max_steps": 3}))
    assert a.comparability_key() == b.comparability_key() != c.comparability_key()
