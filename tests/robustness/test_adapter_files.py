"""Damaged or foreign adapter folders are refused with one line: unreadable or truncated files,
bad headers, NaN values, missing tensors, wrong shapes, an adapter of another model of the same
family. Compatibility is checked against the base model's shapes, not only its family."""
from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from pefomed.adapters import inject, load_adapted
from pefomed.models.registry import create_model

from .conftest import assert_one_line, assert_refused, cli

LORA = "adapter_model.safetensors"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A LoRA adapter of tiny-llava (r=4), and an `adapter` (native bottleneck) and `ln` one."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for method, settings in (("lora", {"r": 4}), ("adapter", {}), ("ln", {})):
        torch.manual_seed(0)
        inject(create_model("tiny-llava"), method, settings=settings).save(root / method)
        out[method] = root / method
    return out


def _copy(src, tmp_path):
    dst = tmp_path / "adapter"
    shutil.copytree(src, dst)
    return dst


def _weights(folder):
    return sorted(folder.glob("*.safetensors"))[0]


def _load(folder, model="tiny-llava"):
    return load_adapted(create_model(model), folder)


def test_an_intact_adapter_still_loads(saved):
    for folder in saved.values():
        assert _load(folder).trainable_parameters() == 0


def _nan(path):
    tensors = load_file(str(path))
    key = sorted(tensors)[0]
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    save_file(tensors, str(path))


def _drop_one(path):
    tensors = load_file(str(path))
    tensors.pop(sorted(tensors)[-1])
    save_file(tensors, str(path))


def _reshape(path):
    tensors = load_file(str(path))
    key = sorted(tensors)[0]
    tensors[key] = torch.zeros(*(d + 1 for d in tensors[key].shape))
    save_file(tensors, str(path))


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bad_header(path):
    data = path.read_bytes()
    path.write_bytes(b"\xff" * 16 + data[16:])


def _empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("method", ["lora", "adapter", "ln"])
@pytest.mark.parametrize("damage, words", [
    (_nan, ["non-finite"]), (_drop_one, ["lacks"]), (_reshape, ["shape"]),
    (_truncate, ["safetensors"]), (_bad_header, ["safetensors"]), (_empty, ["safetensors"]),
])
def test_damaged_weights_are_refused(saved, tmp_path, method, damage, words):
    folder = _copy(saved[method], tmp_path)
    damage(_weights(folder))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(Exception) as info:
        _load(folder)
    assert_one_line(info.value, str(folder), *words)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing rewritten


@pytest.mark.parametrize("method", ["lora", "adapter", "ln"])
def test_an_adapter_of_another_model_of_the_same_family_is_refused(saved, method):
    # medvlm-tiny is a llava too, with other widths: the family check alone let it through
    with pytest.raises(Exception) as info:
        _load(saved[method], "medvlm-tiny")
    assert_one_line(info.value, "tiny-llava", "medvlm-tiny")


def test_eval_cli_refuses_a_tampered_adapter(saved, tmp_path):
    folder = _copy(saved["lora"], tmp_path)
    _nan(_weights(folder))
    result = cli("eval", "--model", "tiny-llava", "--adapter-dir", folder, "--limit", "2")
    assert_refused(result, "non-finite", str(folder))


def test_eval_cli_refuses_an_adapter_of_another_model(saved):
    result = cli("eval", "--model", "medvlm-tiny", "--adapter-dir", saved["lora"], "--limit", "2")
    assert_refused(result, "tiny-llava", "medvlm-tiny")
