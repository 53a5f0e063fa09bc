"""The training loop on tiny-llava: every stop reason, the AdaLoRA hook, accumulation, seeding."""
from __future__ import annotations

import math

import pytest
import torch

from pefomed.train import Budget, TrainConfig, train
from pefomed.train.step import StepRunner
from tests.train.conftest import make_adapted, make_records

CPU = dict(device="cpu", dtype="fp32")


def _run(budget: Budget, records, **cfg):
    adapted = make_adapted()
    config = TrainConfig(**{"batch_size": 2, "lr": 1e-3, **CPU, **cfg})
    return adapted, train(adapted, records, config, budget, progress=False)


def test_max_steps_stops_after_exactly_that_many_steps(records):
    _, result = _run(Budget(max_steps=3), records)
    assert (result.stop_reason, result.steps, result.samples) == ("max_steps", 3, 6)
    assert len(result.losses) == 3 and all(math.isfinite(x) for x in result.losses)
    cost = result.cost
    assert cost.steps == 3 and cost.samples == 6 and cost.tokens > 0
    assert cost.trainable_params > 0 and cost.total_params > cost.trainable_params
    assert cost.flops_estimate > 0 and cost.adapter_bytes > 0 and cost.device_seconds > 0
    assert not result.failed


def test_max_samples_is_exact_even_mid_batch(records):
    _, result = _run(Budget(max_samples=5), records)
    assert (result.stop_reason, result.samples, result.steps) == ("max_samples", 5, 3)


def test_max_seconds_stops_after_the_first_step(records):
    _, result = _run(Budget(max_seconds=1e-9), records)
    assert (result.stop_reason, result.steps) == ("max_seconds", 1)


def test_max_device_seconds_stops_after_the_first_step(records):
    _, result = _run(Budget(max_device_seconds=1e-9), records)
    assert (result.stop_reason, result.steps) == ("max_device_seconds", 1)
    assert result.cost.device_seconds_kind == "cpu_process"


def test_memory_cap_below_current_rss_is_a_recorded_failure(records):
    _, result = _run(Budget(max_steps=50, max_memory_mb=1.0), records)
    # the cap is watched during the step too, so the first step may not even finish
    assert result.stop_reason == "max_memory_mb" and result.steps <= 1
    assert result.failed and result.cost.memory_kind == "cpu_rss" and result.cost.peak_memory_mb > 1.0


def test_data_exhausted_with_epochs_is_completed(records):
    _, result = _run(Budget(max_steps=1000), records, epochs=2)
    assert (result.stop_reason, result.samples, result.steps) == ("completed", 16, 8)
    assert result.epochs == pytest.approx(2.0)


def test_nan_loss_stops_the_run_as_a_failure(records):
    adapted = make_adapted()
    with torch.no_grad():
        next(p for n, p in adapted.model.named_parameters() if "lora_A" in n).fill_(float("nan"))
    result = train(adapted, records, TrainConfig(batch_size=2, **CPU), Budget(max_steps=5), progress=False)
    assert (result.stop_reason, result.steps, result.losses) == ("nan_loss", 0, [])
    assert result.failed


def test_adalora_hook_is_called_after_every_step_with_the_planned_total(records):
    adapted = make_adapted("adalora")
    seen: list[int] = []
    real = adapted.on_step

    def spy(step: int) -> None:
        # AdaLoRA scores importance from the gradients: they must still be there
        assert any(p.grad is not None for p in adapted.model.parameters() if p.requires_grad)
        seen.append(step)
        real(step)

    adapted.on_step = spy
    result = train(adapted, records, TrainConfig(batch_size=2, **CPU), Budget(max_steps=4), progress=False)
    assert result.steps == 4 and seen == [0, 1, 2, 3]
    assert adapted.total_steps == 4


def _grads(adapted) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in adapted.model.named_parameters() if p.grad is not None}


def test_grad_accumulation_matches_one_big_batch():
    batch = make_records(4)
    grads = []
    for micro in (2, 4):
        adapted = make_adapted(settings={"lora_dropout": 0.0})
        adapted.model.eval()
        runner = StepRunner(adapted, torch.device("cpu"), torch.float32)
        stats = runner.backward(batch, micro)
        grads.append((stats.loss, _grads(adapted)))
    (loss_a, ga), (loss_b, gb) = grads
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    assert ga.keys() == gb.keys() and ga
    for name in ga:
        torch.testing.assert_close(ga[name], gb[name], rtol=1e-4, atol=1e-6, msg=name)


def test_grad_accumulation_through_train_gives_the_same_step(records):
    out = []
    for bs, accum in ((2, 2), (4, 1)):
        adapted = make_adapted(settings={"lora_dropout": 0.0})
        result = train(adapted, records, TrainConfig(batch_size=bs, grad_accum=accum, **CPU),
                       Budget(max_steps=2), progress=False)
        out.append((result, {n: p.detach().clone() for n, p in adapted.model.named_parameters()
                             if p.requires_grad}))
    (ra, pa), (rb, pb) = out
    assert ra.samples == rb.samples == 8
    assert ra.losses == pytest.approx(rb.losses, rel=1e-5)
    for name in pa:
        torch.testing.assert_close(pa[name], pb[name], rtol=1e-4, atol=1e-6, msg=name)


def test_same_seed_same_losses_other_seed_other_order(records):
    def losses(seed: int) -> list[float]:
        return _run(Budget(max_steps=4), records, seed=seed)[1].losses

    first, again, other = losses(3), losses(3), losses(4)
    assert first == again
    assert first != other


def test_empty_records_are_a_user_error(records):
    from pefomed.errors import PefomedError

    with pytest.raises(PefomedError, match="at least one record"):
        train(make_adapted(), [], TrainConfig(**CPU), Budget(max_steps=1), progress=False)


def test_nothing_trainable_is_the_zero_shot_baseline_with_zero_spend(records):
    from pefomed.adapters import inject
    from pefomed.models.registry import create_model

    frozen = inject(create_model("tiny-llava"), "frozen")
    before = {k: v.clone() for k, v in frozen.model.state_dict().items()}
    result = train(frozen, records, TrainConfig(**CPU), Budget(max_steps=3), progress=False)
    assert (result.stop_reason, result.steps, result.samples, result.failed) == ("untrained", 0, 0, False)
    assert result.cost.trainable_params == 0 and result.cost.flops_estimate == 0
    assert all(torch.equal(before[k], v) for k, v in frozen.model.state_dict().items())


def test_gradient_checkpointing_changes_memory_not_results(records):
    runs = [_run(Budget(max_steps=2), records, gradient_checkpointing=flag)[1] for flag in (False, True)]
    assert runs[1].losses == pytest.approx(runs[0].losses, rel=1e-5)


def test_bf16_autocast_trains_on_the_cpu(records):
    _, result = _run(Budget(max_steps=1), records, dtype="bf16")
    assert result.steps == 1 and math.isfinite(result.losses[0])


def test_device_out_of_memory_is_a_recorded_memory_failure(records, monkeypatch):
    def oom(self, group, micro):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(StepRunner, "backward", oom)
    _, result = _run(Budget(max_steps=3), records)
    assert (result.stop_reason, result.steps, result.failed) == ("max_memory_mb", 0, True)
