"""save/load: safetensors + JSON round trip after training; strictness; pickle is refused."""
from __future__ import annotations

import json
import pickle

import pytest
import torch

from pefomed.adapters.bottleneck import (BottleneckConfig, attach_bottlenecks, attached_bottlenecks,
                                         bottleneck_state_dict, load_bottlenecks,
                                         save_bottlenecks, select_bottleneck_sites)
from pefomed.errors import PefomedError

from ._util import build, inputs, outputs, scalar_loss


def _trained(tmp_path, preset="houlsby", parts=("vision", "language")):
    """tiny-llava with adapters after two optimizer steps, saved to tmp_path/adapter."""
    bundle = build("tiny-llava")
    config = BottleneckConfig(preset, reduction_factor=8, dropout=0.1)
    sites = attach_bottlenecks(bundle.model, select_bottleneck_sites(bundle, parts, preset), config)
    params = [p for a in attached_bottlenecks(bundle.model).values() for p in a.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    batch = inputs(bundle)
    bundle.model.train()
    for _ in range(2):  # two steps, so down (zero grad while up == 0) changes too
        optimizer.zero_grad()
        scalar_loss(bundle.model(**batch)).backward()
        optimizer.step()
    bundle.model.eval()
    for adapter in attached_bottlenecks(bundle.model).values():
        assert adapter.up.weight.abs().sum() > 0 and adapter.down.weight.grad.abs().sum() > 0
    save_bottlenecks(bundle.model, tmp_path / "adapter", config, sites)
    return bundle, config, sites, batch


def test_save_then_load_into_a_fresh_model_reproduces_outputs(tmp_path):
    trained, config, sites, batch = _trained(tmp_path)
    base = outputs(build("tiny-llava").model, batch)
    expected = outputs(trained.model, batch)
    assert not torch.equal(expected[-1], base[-1])  # training changed the model

    fresh = build("tiny-llava")
    loaded_config, loaded_sites = load_bottlenecks(fresh.model, tmp_path / "adapter")
    assert (loaded_config, loaded_sites) == (config, sites)
    got = outputs(fresh.model, batch)
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
    assert sorted((tmp_path / "adapter").iterdir()) == [tmp_path / "adapter" / "bottleneck.json",
                                                        tmp_path / "adapter" / "bottleneck.safetensors"]
    meta = json.loads((tmp_path / "adapter" / "bottleneck.json").read_text())
    assert meta["format"] == "pefomed-bottleneck" and meta["version"] == 1
    assert meta["config"] == {"preset": "houlsby", "reduction_factor": 8, "non_linearity": "swish",
                              "init_scale": 0.01, "dropout": 0.1}
    assert meta["sites"] == sites


def test_load_reuses_adapters_already_at_the_same_sites(tmp_path):
    trained, config, sites, batch = _trained(tmp_path, preset="pfeiffer", parts=("language",))
    fresh = build("tiny-llava")
    attach_bottlenecks(fresh.model, sites, config, seed=5)
    load_bottlenecks(fresh.model, tmp_path / "adapter")
    want, got = bottleneck_state_dict(trained.model), bottleneck_state_dict(fresh.model)
    assert all(torch.equal(want[k], got[k]) for k in want)

    other = build("tiny-llava")
    attach_bottlenecks(other.model, sites[:1], config)
    with pytest.raises(PefomedError, match="other sites"):
        load_bottlenecks(other.model, tmp_path / "adapter")


def test_save_needs_exactly_the_attached_sites(tmp_path):
    bundle = build("tiny-llava")
    config = BottleneckConfig("pfeiffer")
    sites = attach_bottlenecks(bundle.model, select_bottleneck_sites(bundle, ("language",), "pfeiffer"), config)
    with pytest.raises(PefomedError, match="2 attached adapters"):
        save_bottlenecks(bundle.model, tmp_path, config, sites[:1])


def test_strict_loading_into_a_different_shape(tmp_path):
    _trained(tmp_path, preset="pfeiffer", parts=("language",))
    meta_path = tmp_path / "adapter" / "bottleneck.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["reduction_factor"] = 16  # the weights were saved with 8
    meta_path.write_text(json.dumps(meta))
    model = build("tiny-llava").model
    with pytest.raises(PefomedError, match="shapes differ"):
        load_bottlenecks(model, tmp_path / "adapter")
    assert attached_bottlenecks(model) == {}  # a failed load leaves the model as it was


def test_pickle_is_refused(tmp_path):
    _trained(tmp_path, preset="pfeiffer", parts=("language",))
    adapter = tmp_path / "adapter"
    (adapter / "bottleneck.safetensors").unlink()
    torch.save({"x": torch.zeros(1)}, adapter / "bottleneck.bin")
    with pytest.raises(PefomedError, match=r"refusing pickle file\(s\) bottleneck.bin"):
        load_bottlenecks(build("tiny-llava").model, adapter)
    with pytest.raises(PefomedError, match="refusing to read pickle file"):
        load_bottlenecks(build("tiny-llava").model, adapter / "bottleneck.bin")

    # a pickle under the safetensors name is still not read
    (adapter / "bottleneck.safetensors").write_bytes(pickle.dumps({"x": 1}))
    model = build("tiny-llava").model
    with pytest.raises(PefomedError, match="not a readable safetensors file"):
        load_bottlenecks(model, adapter)
    assert attached_bottlenecks(model) == {}


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(version=2), "version 2"),
    (lambda m: m.update(format="peft"), "not a pefomed bottleneck file"),
    (lambda m: m.pop("sites"), "lacks a 'config' object or a 'sites' list"),
    (lambda m: m["config"].update(rank=4), "unknown bottleneck setting"),
])
def test_bad_metadata_is_explained(tmp_path, edit, message):
    _trained(tmp_path, preset="pfeiffer", parts=("language",))
    meta_path = tmp_path / "adapter" / "bottleneck.json"
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(PefomedError, match=message):
        load_bottlenecks(build("tiny-llava").model, tmp_path / "adapter")


def test_missing_directory_and_broken_json(tmp_path):
    with pytest.raises(PefomedError, match="no bottleneck adapter directory"):
        load_bottlenecks(build("tiny-llava").model, tmp_path / "nope")
    _trained(tmp_path, preset="pfeiffer", parts=("language",))
    (tmp_path / "adapter" / "bottleneck.json").write_text("{not json")
    with pytest.raises(PefomedError, match="not valid JSON"):
        load_bottlenecks(build("tiny-llava").model, tmp_path / "adapter")
