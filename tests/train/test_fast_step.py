"""The fast step is exact: encoded-once rows, per-image cached features and answer-only logits
give the losses and gradients of the plain path (fp32), on every family that takes the path."""
from __future__ import annotations

import pytest
import torch

from pefomed.adapters import inject
from pefomed.models.registry import FAMILIES, MODELS, _ensure_builtin_models, create_model, list_models
from pefomed.train import Budget, FeatureCache, TrainConfig, train
from pefomed.train.step import StepRunner
from tests.train.conftest import make_adapted, make_records

_ensure_builtin_models()
GENERATIVE = [n for n in list_models(tiny_only=True) if FAMILIES.get(MODELS.get(n).family).task == "generate"]
CACHED = [n for n in GENERATIVE if FAMILIES.get(MODELS.get(n).family).supports_feature_cache]
CPU = torch.device("cpu")


def _step(adapted, records, **runner_kwargs) -> tuple[float, dict[str, torch.Tensor]]:
    adapted.model.eval()  # no dropout: the paths must agree exactly
    adapted.model.zero_grad(set_to_none=True)
    stats = StepRunner(adapted, CPU, torch.float32, **runner_kwargs).backward(records, 2)
    grads = {n: p.grad.clone() for n, p in adapted.model.named_parameters() if p.grad is not None}
    return stats.loss, grads


def _assert_same(a, b) -> None:
    (loss_a, grads_a), (loss_b, grads_b) = a, b
    assert abs(loss_a - loss_b) <= 1e-6
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("name", GENERATIVE)
def test_answer_only_logits_match_full_logits(name):
    adapted = inject(create_model(name), "lora")
    records = make_records(4)
    _assert_same(_step(adapted, records, answer_only=False), _step(adapted, records))


def test_answer_only_logits_skip_prompt_tunings_virtual_tokens():
    adapted = make_adapted("prompt", settings={"num_virtual_tokens": 3})
    records = make_records(4)
    _assert_same(_step(adapted, records, answer_only=False), _step(adapted, records))


@pytest.mark.parametrize("name", CACHED)
def test_per_image_cached_features_match_the_pixel_path(name):
    adapted = inject(create_model(name), "lora")
    records = make_records(4, images=3)  # records 0 and 3 share an image
    plain = _step(adapted, records)
    bound = FeatureCache().bind(adapted, torch.float32)
    _assert_same(plain, _step(adapted, records, cache=bound))
    assert (bound.misses, bound.hits) == (3, 1)
    _assert_same(plain, _step(adapted, records, cache=bound))  # now every image is cached
    assert (bound.misses, bound.hits) == (3, 5)


def test_a_batch_with_one_new_image_computes_only_that_image():
    adapted = make_adapted()
    bound = FeatureCache().bind(adapted, torch.float32)
    records = make_records(8, images=8)
    runner = StepRunner(adapted, CPU, torch.float32, cache=bound)
    runner.backward(records[:3], 4)
    runner.backward(records[1:4], 4)
    assert (bound.misses, bound.hits) == (4, 2)


def test_each_record_is_encoded_once_per_run_and_pixels_go_once_cached(monkeypatch):
    adapted = make_adapted()
    records = make_records(8)
    calls = []
    family = adapted.bundle.family
    original = type(family).encode
    monkeypatch.setattr(type(family), "encode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    cache = FeatureCache()
    result = train(adapted, records, TrainConfig(batch_size=4, epochs=3, device="cpu", dtype="fp32"),
                   Budget(max_steps=100), feature_cache=cache, progress=False)
    assert result.steps == 6 and len(calls) == len(records)  # not once per record per epoch
    assert result.cost.cache_misses == 5 and result.cost.cache_hits == 3 * len(records) - 5  # 5 images


def test_encoded_rows_collate_to_the_batch_encoding():
    adapted = make_adapted()
    records = make_records(4)
    runner = StepRunner(adapted, CPU, torch.float32)
    collated = runner.encode(records)
    fam = adapted.bundle.family
    direct = fam.encode(adapted.bundle, [r.load_image() for r in records], [r.question for r in records],
                        [r.answer for r in records])
    assert collated.keys() == direct.keys()
    for key in direct:
        torch.testing.assert_close(collated[key], direct[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("native", [True, False])
def test_auto_dtype_picks_cpu_bf16_only_for_large_models_on_native_bf16(monkeypatch, native):
    from pefomed.train import step

    monkeypatch.setattr(step, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(step, "CPU_BF16_MIN_PARAMS", 1000)
    big, small = torch.nn.Linear(40, 40), torch.nn.Linear(4, 4)
    assert step.resolve_dtype("auto", CPU, big) == (torch.bfloat16 if native else torch.float32)
    assert step.resolve_dtype("auto", CPU, small) == torch.float32
    assert step.resolve_dtype("auto", CPU) == torch.float32  # no model: fp32, as before
    assert step.resolve_dtype("fp32", CPU, big) == torch.float32


def test_run_record_names_the_dtype_the_loop_trained_with(monkeypatch):
    from pefomed.train import step
    from pefomed.train.recipe import device_info

    monkeypatch.setattr(step, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(step, "CPU_BF16_MIN_PARAMS", 1000)
    config = TrainConfig(device="cpu")
    assert device_info(config, torch.nn.Linear(40, 40))["dtype"] == "torch.bfloat16"
    assert device_info(config, torch.nn.Linear(4, 4))["dtype"] == "torch.float32"
