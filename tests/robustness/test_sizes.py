"""Settings that would allocate absurd tensors are refused before allocating, with the rule
derived from the layer shapes and the values in the message."""
from __future__ import annotations

import pytest

import pefomed
from pefomed.models.registry import create_model

from .conftest import assert_one_line, assert_refused, cli


@pytest.mark.parametrize("method, setting", [
    ("lora", "r"), ("dora", "r"), ("loha", "r"), ("vera", "r"), ("adalora", "init_r"),
    ("prompt", "num_virtual_tokens"), ("prefix", "num_virtual_tokens"),
])
def test_a_billion_is_refused_before_allocating(method, setting):
    bundle = create_model("tiny-llava")
    settings = {setting: 1_000_000_000}
    if method == "adalora":
        settings["target_r"] = 4
    with pytest.raises(Exception) as info:
        pefomed.inject(bundle, method, settings=settings)
    message = assert_one_line(info.value, setting, "1000000000", "<=")
    assert any(ch.isdigit() for ch in message.split("<=", 1)[1])  # the bound's value is given
    assert not hasattr(bundle.model, "peft_config")  # nothing was changed


def test_ranks_up_to_the_layer_width_still_work():
    bundle = create_model("tiny-llava")
    from pefomed.adapters.targets import is_linear, modules_in_parts

    width = max(max(m.in_features, m.out_features) for _, m in modules_in_parts(bundle, ["language"])
                if is_linear(m))
    assert pefomed.inject(bundle, "lora", settings={"r": width}).trainable_parameters() > 0


def test_cli_set_r_a_billion_is_one_line(tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--model", "tiny-llava", "--adapter", "lora", "--set", "r=1000000000",
                 "--device", "cpu", "--max-steps", "1", "--out", out)
    assert_refused(result, "r=1000000000", "<=")
    assert not out.exists()


def test_cli_inspect_set_r_a_billion_is_one_line():
    assert_refused(cli("inspect", "tiny-llava", "--adapter", "lora", "--set", "r=1000000000"), "r=1000000000")
