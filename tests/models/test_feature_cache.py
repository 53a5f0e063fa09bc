"""Cached vision features reproduce the pixel path exactly, per batch and per image, through peft."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from pefomed.errors import UnsupportedError
from pefomed.models.base import stack_features
from pefomed.models.registry import FAMILIES, MODELS, create_model
from tests.models.conftest import ANSWERS, QUESTIONS, TINY, forward, make_images

CACHED = [n for n in TINY if FAMILIES.get(MODELS.get(n).family).supports_feature_cache]
UNCACHED = [n for n in TINY if n not in CACHED]


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def test_generative_families_support_the_cache():
    families = {MODELS.get(n).family for n in CACHED}
    assert families == {"llava", "qwen2-vl", "qwen2.5-vl", "idefics3", "smolvlm", "paligemma", "gemma3", "blip2"}


@pytest.mark.parametrize("name", CACHED)
@pytest.mark.parametrize("projected", [False, True])
def test_cached_features_give_the_pixel_path_logits_and_loss(name, projected):
    bundle = create_model(name)
    fam = bundle.family
    enc = fam.encode(bundle, make_images(), QUESTIONS, ANSWERS)
    ref = forward(bundle.model, enc)
    features = fam.image_features(bundle, enc, projected=projected)
    assert features.shape[0] == len(QUESTIONS) and not features.requires_grad
    with torch.no_grad():
        got = fam.forward_with_features(bundle, enc, features, projector_live=not projected)
    assert _max_diff(got.logits, ref.logits) <= 1e-6 and abs(got.loss.item() - ref.loss.item()) <= 1e-6


@pytest.mark.parametrize("name", CACHED)
def test_rows_cached_per_image_restack_into_any_batch(name):
    """What a cache does: features computed one image at a time, stacked (padded) for a batch."""
    bundle = create_model(name)
    fam, images = bundle.family, make_images()
    rows = [fam.image_features(bundle, fam.encode(bundle, [im], [q], [a]))[0]
            for im, q, a in zip(images, QUESTIONS, ANSWERS)]
    enc = fam.encode(bundle, images, QUESTIONS, ANSWERS)
    with torch.no_grad():
        got = fam.forward_with_features(bundle, enc, stack_features(rows))
    assert _max_diff(got.logits, forward(bundle.model, enc).logits) <= 1e-6


@pytest.mark.parametrize("name", ["tiny-llava", "tiny-qwen2.5-vl", "tiny-blip2"])
def test_a_peft_model_with_an_adapted_projector_runs_on_cached_tower_output(name):
    from peft import LoraConfig, get_peft_model

    bundle = create_model(name)
    fam = bundle.family
    targets = [n for n, m in bundle.model.named_modules() if isinstance(m, torch.nn.Linear)
               and fam.anatomy.part_of(n) in ("projector", "language") and fam.layer_kind(n)]
    peft_model = get_peft_model(bundle.model, LoraConfig(r=4, target_modules=targets, init_lora_weights=False))
    enc = fam.encode(bundle, make_images(), QUESTIONS, ANSWERS)
    features = fam.image_features(peft_model, enc)  # the tower is frozen: cached before any training
    with torch.no_grad():
        got = fam.forward_with_features(peft_model, enc, features)
        with peft_model.disable_adapter():
            plain = fam.forward_with_features(peft_model, enc, features)
    ref = forward(peft_model, enc)
    assert _max_diff(got.logits, ref.logits) <= 1e-6
    assert _max_diff(plain.logits, ref.logits) > 1e-4  # the adapter (projector included) was live


def test_idefics_crops_and_padding_crops_survive_the_cache():
    bundle = create_model("tiny-idefics3")
    fam, proc = bundle.family, bundle.processor.image_processor
    proc.do_image_splitting, proc.size = True, {"longest_edge": 64}
    images = [Image.new("RGB", (64, 64), "white"), make_images()[1]]  # 4 + 1 crops, 2 + 1 crops
    enc = fam.encode(bundle, images, QUESTIONS, ANSWERS)
    features = fam.image_features(bundle, enc)
    assert features.shape[:2] == (2, 5) and features[1, 3:].abs().sum() == 0
    with torch.no_grad():
        got = fam.forward_with_features(bundle, enc, features)
    assert _max_diff(got.logits, forward(bundle.model, enc).logits) <= 1e-6


@pytest.mark.parametrize("name", UNCACHED)
def test_families_without_the_cache_refuse_it(name):
    bundle = create_model(name)
    enc = bundle.family.encode(bundle, make_images(), QUESTIONS, ANSWERS)
    with pytest.raises(UnsupportedError, match="cannot cache vision features"):
        bundle.family.image_features(bundle, enc)
    with pytest.raises(UnsupportedError, match="cannot cache vision features"):
        bundle.family.forward_with_features(bundle, enc, torch.zeros(2, 1))


def test_stack_features_pads_rows_to_the_longest():
    rows = [torch.ones(2, 3), torch.ones(4, 3)]
    out = stack_features(rows)
    assert out.shape == (2, 4, 3) and out[0, 2:].abs().sum() == 0 and out[1].sum() == 12
