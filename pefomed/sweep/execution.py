"""How a sweep's trials are executed: in the worker's process or each in a fresh one, and how
often a running trial proves it is alive.

    execution:
      isolation: auto     # auto | process | none
      heartbeat_s: 5      # a running trial's heartbeat interval (RDB storage)
      grace_s: 20         # no heartbeat for this long: the trial's worker is dead, the trial re-queued

``isolation: process`` runs every trial in a fresh Python process (:mod:`pefomed.sweep.isolated`):
a crash, an out-of-memory kill or a leaked CUDA context takes down that trial only, and the
trial's peak memory is its own (in one process, CPU resident memory only grows across trials).
It costs a process start, the imports and a data load per trial (see the README for the
measured overhead). ``auto`` isolates when that cost buys something: on a CUDA machine, or
when memory is an objective or a budget limit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ISOLATION = ("auto", "process", "none")
KEYS = ("isolation", "heartbeat_s", "grace_s")


@dataclass(frozen=True)
class ExecutionSpec:
    """Trial isolation and liveness settings (not part of what makes trials comparable)."""

    isolation: str = "auto"
    heartbeat_s: int = 5
    grace_s: int = 20

    def isolated(self, *, cost: str, budget: dict[str, Any], cuda: bool | None = None) -> bool:
        """Whether trials run in fresh processes under this spec's objective and budget."""
        if self.isolation != "auto":
            return self.isolation == "process"
        if cost == "peak_memory_mb" or budget.get("max_memory_mb") is not None:
            return True
        if cuda is None:
            import torch

            cuda = torch.cuda.is_available()
        return bool(cuda)


def parse_execution(value: Any, add_problem: Any) -> ExecutionSpec:
    """Validate the ``execution:`` mapping; ``add_problem(where, message)`` collects problems."""
    if value is None:
        return ExecutionSpec()
    if not isinstance(value, dict):
        add_problem("execution", f"must be a mapping like {{isolation: process}}, but got {value!r}")
        return ExecutionSpec()
    from pefomed.errors import did_you_mean

    for key in value:
        if key not in KEYS:
            add_problem(f"execution.{key}", did_you_mean(str(key), KEYS, "key") + "; remove or rename it")
    isolation = value.get("isolation", "auto")
    if isolation not in ISOLATION:
        add_problem("execution.isolation", did_you_mean(str(isolation), ISOLATION, "isolation"))
        isolation = "auto"
    out: dict[str, int] = {}
    for key, low in (("heartbeat_s", 1), ("grace_s", 2)):
        v = value.get(key, getattr(ExecutionSpec, key))
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            add_problem(f"execution.{key}", f"must be an integer number of seconds >= {low}, but got {v!r}")
            v = getattr(ExecutionSpec, key)
        out[key] = v
    if out["grace_s"] <= out["heartbeat_s"]:
        add_problem("execution.grace_s", f"grace_s > heartbeat_s must hold (a live trial would look dead), "
                                         f"but got (grace_s={out['grace_s']}, heartbeat_s={out['heartbeat_s']})")
    return ExecutionSpec(isolation=isolation, **out)
