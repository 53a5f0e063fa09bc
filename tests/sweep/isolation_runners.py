"""Runner factories for isolated-trial tests: importable by name (``module:Class``) from the
fresh process each trial runs in, built from the spec there."""
from __future__ import annotations

import os
import signal

from pefomed.sweep.objective import TrialOutcome

_LEAK: list = []
#: label -> accuracy reported
ACCURACY = {"lora": 0.7, "ia3": 0.55, "frozen": 0.3}


def _outcome(config, ctx, rss_mb: float) -> TrialOutcome:
    acc = ACCURACY[config.label]
    return TrialOutcome(metrics={"token-f1": {"value": acc, "ci95": None, "n": 8}},
                        cost={"peak_memory_mb": rss_mb, "trainable_params": 10}, run_dir=str(ctx.out_dir))


class LeakyRunner:
    """The ``lora`` trial allocates 300 MB and never frees it (as a leaked CUDA context or an
    allocator cache would); every trial reports its process's resident memory as its peak."""

    LEAK_MB = 300

    def __init__(self, spec) -> None:
        self.spec = spec

    def __call__(self, config, ctx) -> TrialOutcome:
        import psutil

        if config.label == "lora":
            _LEAK.append(bytearray(os.urandom(1)) * (self.LEAK_MB * 2**20))  # touched pages
        return _outcome(config, ctx, psutil.Process().memory_info().rss / 2**20)


class CrashingRunner:
    """The ``ia3`` trial dies as the kernel's OOM killer would kill it; the others finish."""

    def __init__(self, spec) -> None:
        self.spec = spec

    def __call__(self, config, ctx) -> TrialOutcome:
        if config.label == "ia3":
            os.kill(os.getpid(), signal.SIGKILL)
        return _outcome(config, ctx, 1.0)
