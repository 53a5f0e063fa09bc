"""Run config files: YAML <-> RunSpec, flags over the file, every problem at once, reproduction."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pefomed.cli import main
from pefomed.train import RunSpec
from pefomed.train.config import ConfigError, dump_config, load_config, spec_from_mapping
from pefomed.train.schema import leaves

TINY = {"model": "tiny-llava", "dataset": "synth-rad", "adapter": "lora", "settings": {"r": 4},
        "train": {"batch_size": 2, "lr": "1e-3", "device": "cpu", "dtype": "fp32"},
        "budget": {"max_steps": 2}, "train_limit": 6, "eval_limit": 4, "protocols": ["closed-lenient"]}


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_schema_field_is_a_flag_and_a_yaml_key():
    flags = {leaf.flag for leaf in leaves(RunSpec) if leaf.flag}
    assert {"--model", "--lr", "--max-steps", "--save-every", "--report-to", "--set", "--out"} <= flags
    result = CliRunner().invoke(main, ["train", "--help"])
    assert all(flag in result.output for flag in flags), result.output


def test_yaml_round_trip_and_yaml_1_1_floats(tmp_path):
    spec = load_config(_write(tmp_path, TINY))
    assert spec.train.lr == 1e-3 and spec.parts == ("language",) and spec.protocols == ("closed-lenient",)
    again = load_config(_write(tmp_path, yaml.safe_load(dump_config(spec))))
    assert again == spec


def test_every_problem_is_reported_at_once(tmp_path):
    bad = dict(TINY, adapter="lroa", lerning_rate=1, train={"lr": -1}, budget={"max_stepz": 3},
               control={"patience": 2})
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, bad))
    text = str(info.value)
    for word in ("lerning_rate", "lr > 0", "max_stepz", "did you mean 'max_steps'", "patience needs eval_every"):
        assert word in text, text
    assert len(info.value.problems) >= 4


def test_flags_override_the_file_and_print_config_shows_the_result(tmp_path):
    path = _write(tmp_path, TINY)
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--max-steps", "7", "--lr", "0.01",
                                       "--report-to", "tensorboard", "--print-config"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["budget"]["max_steps"] == 7 and shown["train"]["lr"] == 0.01
    assert shown["train"]["batch_size"] == 2 and shown["control"]["report_to"] == ["tensorboard"]
    assert spec_from_mapping(shown).budget.max_steps == 7


def test_bad_config_from_the_cli_is_an_error_exit_2(tmp_path):
    path = _write(tmp_path, dict(TINY, budget={"max_steps": -1}, layers="everything"))
    result = CliRunner().invoke(main, ["train", "--config", str(path)])
    assert result.exit_code == 2 and "2 problems" in result.output and "layers" in result.output, result.output


@pytest.mark.slow
def test_the_stored_config_reproduces_the_run(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    ok = CliRunner().invoke(main, ["train", "--config", str(_write(tmp_path, TINY)), "--out", str(first)])
    assert ok.exit_code == 0, ok.output
    again = CliRunner().invoke(main, ["train", "--config", str(first / "config.yaml"), "--out", str(second)])
    assert again.exit_code == 0, again.output
    a, b = (json.loads((d / "run.json").read_text()) for d in (first, second))
    assert a["train"]["losses"] == b["train"]["losses"] and len(a["train"]["losses"]) == 2
    assert a["metrics"]["metrics"] == b["metrics"]["metrics"]
    assert (first / "config.yaml").read_text() == (second / "config.yaml").read_text()
