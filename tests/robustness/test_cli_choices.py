"""Empty or impossible CLI choices are refused up front: `--parts ""`, an absent device."""
from __future__ import annotations

import pytest
import torch

from .conftest import QUICK, TINY, assert_refused, cli


@pytest.mark.parametrize("parts", ["", " ", ",", " , "])
def test_empty_parts_are_refused_not_read_as_language(tmp_path, parts):
    out = tmp_path / "run"
    result = cli("train", *TINY, "--adapter", "lora", "--parts", parts, *QUICK, "--out", out)
    assert_refused(result, "--parts", "vision", "language")
    assert not out.exists()


def test_empty_parts_are_refused_by_inspect():
    result = cli("inspect", "tiny-llava", "--adapter", "lora", "--parts", "")
    assert_refused(result, "--parts")


@pytest.mark.parametrize("device, present", [
    ("mps", lambda: torch.backends.mps.is_available()),
    ("cuda", lambda: torch.cuda.is_available()),
    ("cuda:7", lambda: torch.cuda.device_count() > 7),
    ("xpu", lambda: hasattr(torch, "xpu") and torch.xpu.is_available()),
])
def test_a_device_this_machine_lacks_is_one_line_before_loading(tmp_path, device, present):
    if present():
        pytest.skip(f"{device} is present on this machine")
    out = tmp_path / "run"
    result = cli("train", "--model", "tiny-llava", "--dataset", "synth-rad", "--adapter", "lora",
                 "--device", device, *QUICK, "--out", out)
    assert_refused(result, device, "cpu")
    assert not out.exists()


def test_a_sweep_on_a_missing_device_is_refused_when_the_spec_is_read():
    from pefomed.sweep.spec import SpecError
    from pefomed.sweep.validate import parse_spec

    if torch.backends.mps.is_available():
        pytest.skip("mps is present on this machine")
    raw = {"name": "t", "model": "tiny-llava", "dataset": {"name": "synth-rad"}, "adapters": ["lora"],
           "budget": {"max_steps": 1}, "n_trials": 1, "train": {"device": "mps"}}
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    assert any(p.startswith("train.device") and "mps" in p for p in info.value.problems), info.value.problems
