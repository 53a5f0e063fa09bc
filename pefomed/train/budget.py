"""Training budgets: what a run may spend, and a tracker that says which limit it hit first.

Limits are checked after every optimizer step, so a run overshoots a time limit by at most one
step; the memory cap is also watched during the step (:class:`MemoryMeter`). ``max_samples``
is exact: the loop trims the last batch instead of overshooting, so runs with different batch
sizes see the same number of examples.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from pefomed.errors import PefomedError
from pefomed.train.schema import option

STOP_REASONS: tuple[str, ...] = (
    "max_steps", "max_samples", "max_seconds", "max_device_seconds", "max_memory_mb",
    "completed", "nan_loss", "diverged", "early_stopping", "interrupted",
)
#: stop reasons that mean the trial failed (its metrics must not enter a comparison)
FAILURE_REASONS: frozenset[str] = frozenset({"max_memory_mb", "nan_loss", "diverged"})
_LIMITS = ("max_steps", "max_samples", "max_seconds", "max_device_seconds")


@dataclass(frozen=True)
class Budget:
    """What one training run may spend; the first limit reached stops it.

    ``max_device_seconds`` is GPU-seconds on CUDA (CUDA events) and process CPU-seconds of the
    training steps on the CPU. ``max_memory_mb`` caps peak memory (CUDA allocated, or resident
    set size on the CPU); crossing it is recorded as a failure, not raised.
    """

    max_steps: int | None = option(None, help="budget: optimizer steps")
    max_samples: int | None = option(None, help="budget: training examples")
    max_seconds: float | None = option(None, help="budget: wall-clock seconds of training")
    max_device_seconds: float | None = option(None, help="budget: GPU-seconds (CPU-seconds on a CPU)")
    max_memory_mb: float | None = option(None, help="peak memory cap; crossing it fails the run")

    def __post_init__(self) -> None:
        errors = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            integral = f.name in ("max_steps", "max_samples")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    integral and not float(value).is_integer()):
                kind = "an integer" if integral else "a number"
                errors.append(f"{f.name} must be {kind}, but got {value!r}")
            elif not math.isfinite(value) or value <= 0:
                errors.append(f"{f.name} > 0 must hold, but got {f.name}={value!r}")
        if all(getattr(self, name) is None for name in _LIMITS):
            errors.append(f"set at least one of {', '.join(_LIMITS)} (all are None)")
        if errors:
            raise PefomedError(f"invalid Budget: {'; '.join(errors)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Budget":
        return cls(**data)

    def describe(self) -> str:
        """``max_steps=100, max_seconds=60`` (the limits that are set)."""
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items() if v is not None)


def cuda_device(device: torch.device | str) -> bool:
    return torch.device(device).type == "cuda"


class DeviceClock:
    """Seconds the device spent on training steps: CUDA events on a GPU, process CPU time else."""

    def __init__(self, device: torch.device | str) -> None:
        self.cuda = cuda_device(device)
        self.kind = "cuda" if self.cuda else "cpu_process"
        self.seconds = 0.0
        self._start: Any = None

    def start(self) -> None:
        if self.cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._start = time.process_time()

    def stop(self) -> None:
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
            self.seconds += self._start.elapsed_time(end) / 1000.0
        else:
            self.seconds += time.process_time() - self._start


class MemoryCapExceeded(torch.OutOfMemoryError):
    """Raised inside a step (at the next module call) once the memory cap is crossed. It is an
    out-of-memory error, so the training loop handles it as the device running out: the run
    stops with ``max_memory_mb`` instead of finishing a step that has already broken the cap."""


class MemoryMeter:
    """Peak memory in MB: CUDA ``max_memory_allocated`` on a GPU, resident set size on the CPU.

    On the CPU the peak is the kernel's high-water mark (``VmHWM``, reset when the meter starts),
    so memory allocated and freed *inside* a step counts; without /proc, RSS sampled at each call.
    With ``cap_mb`` the cap is also watched *during* steps: a thread samples RSS every
    ``SAMPLE_SECONDS`` on the CPU (every module call checks the CUDA peak), and once it is crossed
    the next module call raises :class:`MemoryCapExceeded`. Thread and hook end with the meter.
    """

    SAMPLE_SECONDS = 0.01

    def __init__(self, device: torch.device | str, cap_mb: float | None = None) -> None:
        self.cuda = cuda_device(device)
        self.kind = "cuda_allocated" if self.cuda else "cpu_rss"
        self.peak_mb = 0.0
        self._hwm = False
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(torch.device(device))
            self._device = torch.device(device)
        else:
            import psutil

            self._process = psutil.Process()
            self._hwm = _reset_high_water_mark()
        if cap_mb is not None:
            _guard(self, cap_mb)

    def sample(self) -> float:
        if self.cuda:
            now = torch.cuda.max_memory_allocated(self._device) / 2**20
        else:
            now = self._process.memory_info().rss / 2**20
            if self._hwm:
                now = max(now, _high_water_mark_mb())
        self.peak_mb = max(self.peak_mb, now)
        return self.peak_mb


def _reset_high_water_mark() -> bool:
    """Reset the process's peak RSS (Linux >= 4.0: ``5`` into clear_refs); False where unavailable."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        _high_water_mark_mb()
        return True
    except (OSError, ValueError):
        return False


def _high_water_mark_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise ValueError("no VmHWM in /proc/self/status")


def _guard(meter: MemoryMeter, cap_mb: float) -> None:
    """Watch ``meter`` against ``cap_mb`` during steps (see :class:`MemoryMeter`); nothing here
    holds the meter alive, and both the thread and the hook end when it is collected."""
    import threading
    import weakref

    ref = weakref.ref(meter)
    state = {"tripped": False, "done": False}
    cuda = meter.cuda

    def hook(module: Any, args: Any) -> None:
        if cuda and not state["tripped"]:
            m = ref()
            state["tripped"] = m is not None and m.sample() > cap_mb
        if state["tripped"]:
            m = ref()
            peak = m.peak_mb if m is not None else float("nan")
            raise MemoryCapExceeded(f"peak memory {peak:.0f} MB crossed max_memory_mb={cap_mb:g} during a step")

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)

    def watch() -> None:
        while not state["done"]:
            m = ref()
            if m is None:
                break
            if m.sample() > cap_mb:
                state["tripped"] = True
            del m
            time.sleep(MemoryMeter.SAMPLE_SECONDS)

    def stop() -> None:
        state["done"] = True
        handle.remove()

    weakref.finalize(meter, stop)
    if not cuda:
        threading.Thread(target=watch, name="pefomed-memory", daemon=True).start()


class BudgetTracker:
    """Counts steps, samples and seconds; :meth:`check` names the first limit reached, if any."""

    def __init__(self, budget: Budget, device: torch.device | str = "cpu") -> None:
        self.budget = budget
        self.clock = DeviceClock(device)
        self.memory = MemoryMeter(device, budget.max_memory_mb)
        self.steps = 0
        self.samples = 0
        self._t0 = time.perf_counter()

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self._t0

    def restore(self, *, steps: int, samples: int, wall_seconds: float, device_seconds: float) -> None:
        """Continue counting from an earlier part of the same run (a resume): budgets are global."""
        self.steps, self.samples = steps, samples
        self._t0 = time.perf_counter() - wall_seconds
        self.clock.seconds = device_seconds

    def samples_allowed(self, batch: int) -> int:
        """How many of the next ``batch`` samples fit under ``max_samples``."""
        cap = self.budget.max_samples
        return batch if cap is None else max(0, min(batch, cap - self.samples))

    def record_step(self, samples: int) -> None:
        self.steps += 1
        self.samples += samples

    def check(self) -> str | None:
        """The stop reason of the first limit reached, else None. Memory is checked first:
        a run over its memory cap has failed even if it also finished its steps."""
        b = self.budget
        peak = self.memory.sample()
        if b.max_memory_mb is not None and peak > b.max_memory_mb:
            return "max_memory_mb"
        if b.max_steps is not None and self.steps >= b.max_steps:
            return "max_steps"
        if b.max_samples is not None and self.samples >= b.max_samples:
            return "max_samples"
        if b.max_seconds is not None and self.wall_seconds >= b.max_seconds:
            return "max_seconds"
        if b.max_device_seconds is not None and self.clock.seconds >= b.max_device_seconds:
            return "max_device_seconds"
        return None

    def remaining(self) -> str:
        """The tightest limit left, for a progress bar (``"42 steps"``, ``"12.0 s"``)."""
        b = self.budget
        left = []
        if b.max_steps is not None:
            left.append((1 - self.steps / b.max_steps, f"{b.max_steps - self.steps} steps"))
        if b.max_samples is not None:
            left.append((1 - self.samples / b.max_samples, f"{b.max_samples - self.samples} samples"))
        if b.max_seconds is not None:
            wall_left = max(0.0, b.max_seconds - self.wall_seconds)
            left.append((1 - self.wall_seconds / b.max_seconds, f"{wall_left:.0f} s"))
        if b.max_device_seconds is not None:
            left.append((1 - self.clock.seconds / b.max_device_seconds,
                         f"{max(0.0, b.max_device_seconds - self.clock.seconds):.0f} device-s"))
        return min(left)[1] if left else ""
