"""max_memory_mb is a cap *during* the step: a transient peak inside a step fails the run and the
true peak is recorded (it used to be sampled only after the step, when the memory was freed)."""
from __future__ import annotations

import numpy as np
import torch

from pefomed.train import Budget, TrainConfig
from pefomed.train.budget import BudgetTracker
from pefomed.train.loop import train

MB = 2**20


def _spike(mb: int) -> None:
    block = np.ones(mb * MB, dtype=np.uint8)  # touched, so resident
    block[::4096] = 2
    del block


def test_tracker_sees_a_peak_that_was_freed_before_the_check():
    tracker = BudgetTracker(Budget(max_steps=10, max_memory_mb=1e9))
    before = tracker.memory.sample()
    _spike(300)
    assert tracker.memory.sample() >= before + 250  # the freed 300 MB still counts as the peak


def test_tracker_fails_a_cap_crossed_only_inside_the_step():
    base = BudgetTracker(Budget(max_steps=10)).memory.sample()
    tracker = BudgetTracker(Budget(max_steps=10, max_memory_mb=base + 150))
    tracker.record_step(1)
    _spike(300)
    assert tracker.check() == "max_memory_mb"
    assert tracker.memory.peak_mb > base + 150


def test_a_training_step_that_spikes_stops_with_the_reason_and_the_true_peak(tiny_adapted, records):
    base = BudgetTracker(Budget(max_steps=10)).memory.sample()
    cap = base + 200

    def hook(module, args):
        _spike(400)

    handle = tiny_adapted.bundle.model.get_base_model().register_forward_pre_hook(hook)
    try:
        result = train(tiny_adapted, records, TrainConfig(batch_size=2, device="cpu"),
                       Budget(max_steps=5, max_memory_mb=cap), progress=False)
    finally:
        handle.remove()
    assert result.stop_reason == "max_memory_mb" and result.failed
    assert result.cost.peak_memory_mb > cap  # the peak, not the resident memory after the step
    assert result.steps <= 1


def test_a_run_under_its_cap_is_not_stopped(tiny_adapted, records):
    result = train(tiny_adapted, records, TrainConfig(batch_size=2, device="cpu"),
                   Budget(max_steps=2, max_memory_mb=1e6), progress=False)
    assert result.stop_reason == "max_steps" and 0 < result.cost.peak_memory_mb < 1e6


def test_memory_sampling_leaves_no_thread_or_hook_behind(tiny_adapted, records):
    import threading
    import gc

    train(tiny_adapted, records, TrainConfig(batch_size=2, device="cpu"),
          Budget(max_steps=1, max_memory_mb=1e6), progress=False)
    gc.collect()
    deadline = __import__("time").monotonic() + 2
    while any(t.name == "pefomed-memory" for t in threading.enumerate()):
        assert __import__("time").monotonic() < deadline, "memory sampler thread still running"
        __import__("time").sleep(0.02)
    assert not torch.nn.modules.module._global_forward_pre_hooks


def test_the_cap_stops_the_step_it_is_crossed_in(tiny_adapted, records):
    """Memory held across module calls: the sampler trips and the next module call ends the step."""
    import time

    base = BudgetTracker(Budget(max_steps=10)).memory.sample()
    held = []

    def grab(module, args):
        block = np.ones(400 * MB, dtype=np.uint8)
        block[::4096] = 2
        held.append(block)
        time.sleep(0.1)  # the sampler looks every 10 ms

    handle = tiny_adapted.bundle.model.get_base_model().register_forward_pre_hook(grab)
    try:
        result = train(tiny_adapted, records, TrainConfig(batch_size=2, device="cpu"),
                       Budget(max_steps=5, max_memory_mb=base + 200), progress=False)
    finally:
        handle.remove()
        held.clear()
    assert result.stop_reason == "max_memory_mb" and result.steps == 0  # stopped inside step 1
    assert result.cost.peak_memory_mb > base + 350
