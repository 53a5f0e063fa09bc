"""Cached image features are exact, shared across trials, and refused when the tower trains."""
from __future__ import annotations

import pytest
import torch

from pefomed.train import Budget, FeatureCache, TrainConfig, train
from pefomed.train.feature_cache import image_key, model_identity
from pefomed.train.step import StepRunner
from tests.train.conftest import make_adapted, make_records

CPU = dict(device="cpu", dtype="fp32")


def _logits_and_loss(adapted, records, cache):
    runner = StepRunner(adapted, torch.device("cpu"), torch.float32, cache)
    inputs = runner.encode(records)
    labels = inputs["labels"]
    with torch.no_grad():
        out = runner._forward(records, dict(inputs))
    logits = out.logits
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                             labels[:, 1:].reshape(-1), ignore_index=-100)
    return logits, loss


def test_cached_logits_and_loss_equal_the_pixel_path(records):
    adapted = make_adapted()
    adapted.model.eval()
    cache = FeatureCache()
    bound = cache.bind(adapted, torch.float32)
    plain_logits, plain_loss = _logits_and_loss(adapted, records[:4], None)
    for _ in range(2):  # first pass computes (miss), second reads the cache (hit)
        cached_logits, cached_loss = _logits_and_loss(adapted, records[:4], bound)
        assert (cached_logits - plain_logits).abs().max().item() <= 1e-6
        assert abs(cached_loss.item() - plain_loss.item()) <= 1e-6
    assert (bound.misses, bound.hits) == (4, 4)
    assert len(cache) == 4  # records[:4] show 4 distinct images


def test_training_through_the_cache_matches_uncached_training(records):
    runs = {}
    for cached in (False, True):
        adapted = make_adapted(settings={"lora_dropout": 0.0})
        cache = FeatureCache() if cached else None
        runs[cached] = train(adapted, records, TrainConfig(batch_size=4, epochs=2, **CPU),
                             Budget(max_steps=100), feature_cache=cache, progress=False)
    plain, fast = runs[False], runs[True]
    assert fast.losses == pytest.approx(plain.losses, abs=1e-5)
    assert fast.cost.feature_cache and not plain.cost.feature_cache
    assert fast.cost.cache_hits > 0 and fast.cost.cache_seconds_saved > 0
    assert fast.cost.flops_estimate < plain.cost.flops_estimate


def test_a_trained_projector_runs_live_on_cached_tower_output(records):
    runs = []
    for cache in (None, FeatureCache()):
        adapted = make_adapted(settings={"lora_dropout": 0.0}, train_projector=True)
        runs.append(train(adapted, records, TrainConfig(batch_size=4, epochs=2, lr=1e-2, **CPU),
                          Budget(max_steps=100), feature_cache=cache, progress=False))
    assert runs[1].cost.feature_cache
    assert runs[1].losses == pytest.approx(runs[0].losses, abs=1e-5)


def test_one_cache_serves_every_trial_on_the_same_base_model(records):
    cache = FeatureCache()
    first = train(make_adapted(), records, TrainConfig(batch_size=4, epochs=1, **CPU), Budget(max_steps=10),
                  feature_cache=cache, progress=False)
    second = train(make_adapted("ia3"), records, TrainConfig(batch_size=4, epochs=1, **CPU),
                   Budget(max_steps=10), feature_cache=cache, progress=False)
    assert first.cost.cache_misses > 0
    assert second.cost.cache_misses == 0 and second.cost.cache_hits == len(records)


def test_a_vision_adapter_disables_the_cache(records):
    adapted = make_adapted(parts=("vision",))
    assert adapted.vision_trainable
    cache = FeatureCache()
    result = train(adapted, records, TrainConfig(batch_size=4, **CPU), Budget(max_steps=2),
                   feature_cache=cache, progress=False)
    assert not result.cost.feature_cache and "vision tower" in result.cache_note
    assert len(cache) == 0 and result.steps == 2


def test_model_identity_follows_the_vision_weights_not_the_adapter():
    a, b, other = make_adapted(), make_adapted("ia3"), make_adapted(seed=1)
    assert model_identity(a.bundle) == model_identity(b.bundle)
    assert model_identity(a.bundle) != model_identity(other.bundle)


def test_image_key_prefers_image_id_then_pixels():
    rec = make_records(1)[0]
    assert image_key(rec) == "id:img0"
    from dataclasses import replace

    anon = replace(rec, image_id="")
    assert image_key(anon).startswith("pixels:") and image_key(anon) == image_key(replace(anon, id="x"))
