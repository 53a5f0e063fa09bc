"""select_bottleneck_sites: one attention + one FFN output per layer (houlsby), FFN only (pfeiffer)."""
from __future__ import annotations

from collections import Counter

import pytest

from pefomed.adapters.bottleneck import select_bottleneck_sites, transformer_layers
from pefomed.errors import PefomedError, UnsupportedError

from ._util import TINY, all_parts_with_sites, build

LLAVA_VISION = "model.vision_tower.encoder.layers"
LLAVA_TEXT = "model.language_model.layers"


def test_tiny_llava_sites_by_name():
    bundle = build("tiny-llava")
    assert select_bottleneck_sites(bundle, ("vision", "language"), "houlsby") == [
        f"{LLAVA_VISION}.0.self_attn.out_proj", f"{LLAVA_VISION}.0.mlp.fc2",
        f"{LLAVA_VISION}.1.self_attn.out_proj", f"{LLAVA_VISION}.1.mlp.fc2",
        f"{LLAVA_TEXT}.0.self_attn.o_proj", f"{LLAVA_TEXT}.0.mlp.down_proj",
        f"{LLAVA_TEXT}.1.self_attn.o_proj", f"{LLAVA_TEXT}.1.mlp.down_proj",
    ]
    assert select_bottleneck_sites(bundle, ("language",), "pfeiffer") == [
        f"{LLAVA_TEXT}.0.mlp.down_proj", f"{LLAVA_TEXT}.1.mlp.down_proj",
    ]


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("preset, per_layer", [("houlsby", 2), ("pfeiffer", 1)])
def test_sites_per_transformer_layer(name, preset, per_layer):
    bundle = build(name)
    parts = all_parts_with_sites(bundle)
    assert parts, f"{name}: no part has bottleneck sites"
    anatomy = bundle.family.anatomy
    modules = dict(bundle.model.named_modules())
    for part in parts:
        sites = select_bottleneck_sites(bundle, (part,), preset)
        layers = [x for x in transformer_layers(bundle.model) if anatomy.part_of(x) == part
                  and any(type(m).__name__.endswith("Linear") for m in modules[x].modules())]
        per = Counter(next(x for x in layers if s.startswith(x + ".")) for s in sites)
        assert set(per) == set(layers), f"{name}/{part}: layers without a site"
        assert set(per.values()) == {per_layer}
        assert all(anatomy.part_of(s) == part for s in sites)
        # every site writes back into the residual stream: both sites of a layer share out_features
        widths = {x: {modules[s].out_features for s in sites if s.startswith(x + ".")} for x in layers}
        assert all(len(w) == 1 for w in widths.values())


def test_language_part_touches_no_vision_module():
    bundle = build("tiny-llava")
    sites = select_bottleneck_sites(bundle, ("language",), "houlsby")
    assert len(sites) == 4 and all(s.startswith(LLAVA_TEXT + ".") for s in sites)
    assert all(bundle.family.anatomy.part_of(s) == "language" for s in sites)


def test_heads_and_projector_are_never_sites():
    bundle = build("tiny-llava")
    every = select_bottleneck_sites(bundle, ("vision", "projector", "language"), "houlsby")
    assert not any(s.startswith(("lm_head", "model.multi_modal_projector")) for s in every)
    with pytest.raises(UnsupportedError) as err:
        select_bottleneck_sites(bundle, ("projector",), "houlsby")
    assert "use part(s) language, vision" in str(err.value) and "\n" not in str(err.value)


def test_bad_part_and_preset_are_named():
    bundle = build("tiny-llava")
    with pytest.raises(PefomedError, match="did you mean 'language'"):
        select_bottleneck_sites(bundle, ("langauge",), "houlsby")
    with pytest.raises(PefomedError, match="did you mean 'pfeiffer'"):
        select_bottleneck_sites(bundle, ("language",), "pfeifer")
    with pytest.raises(PefomedError, match="no parts"):
        select_bottleneck_sites(bundle, (), "houlsby")


def test_same_sites_through_a_peft_wrapper():
    from peft import LoraConfig, get_peft_model

    bundle = build("tiny-llava")
    plain = select_bottleneck_sites(bundle, ("language",), "houlsby")
    bundle.model = get_peft_model(bundle.model, LoraConfig(r=2, target_modules=["o_proj", "q_proj"]))
    assert select_bottleneck_sites(bundle, ("language",), "houlsby") == plain
