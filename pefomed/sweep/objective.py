"""One trial: run a pluggable *runner* on a :class:`TrialConfig`, never let it kill the sweep,
and turn what happened into a record.

A runner is any ``runner(config, context) -> TrialOutcome``. The default one
(:class:`pefomed.sweep.runner.RecipeRunner`) fine-tunes and evaluates with
:func:`pefomed.train.recipe.run_finetune`; tests plug in fast fakes to exercise the engine.
Whatever a runner raises (out of memory, a NaN loss, a bug) becomes a ``failed`` outcome
with a one-line reason; the traceback goes to ``error.txt`` in the trial folder.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pefomed.sweep.records import SCHEMA, json_safe
from pefomed.sweep.space import TrialConfig
from pefomed.sweep.spec import SweepSpec


@dataclass
class TrialContext:
    """What a runner gets besides the config: the sweep, the trial number, its own folder."""

    spec: SweepSpec
    number: int
    out_dir: Path
    feature_cache: Any = None


@dataclass
class TrialOutcome:
    """What a runner reports. ``metrics[protocol] = {"value", "ci95", "n"}`` on the search split;
    ``cost`` holds the :class:`~pefomed.train.cost.Cost` figures; ``status`` is ``complete`` or
    ``failed`` (with ``reason``)."""

    status: str = "complete"
    reason: str | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    run_dir: str | None = None


Runner = Callable[[TrialConfig, TrialContext], TrialOutcome]


def one_line(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (trimmed to 300 characters)."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return text[:300]


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def run_guarded(runner: Runner, config: TrialConfig, ctx: TrialContext) -> TrialOutcome:
    """Run ``runner``; any exception (but an interrupt) becomes a failed outcome with its reason."""
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    skip = plan_skip(config, ctx.spec)
    if skip is not None:
        return skip
    try:
        outcome = runner(config, ctx)
    except Exception as exc:  # a failing trial must not stop the sweep
        ctx.out_dir.mkdir(parents=True, exist_ok=True)  # a failed run removes the folder it made
        (ctx.out_dir / "error.txt").write_text(traceback.format_exc())
        reason = ("out of memory: " if _is_oom(exc) else "") + one_line(exc)
        return TrialOutcome(status="failed", reason=reason, run_dir=str(ctx.out_dir))
    return check_outcome(outcome, ctx.spec)


def plan_skip(config: TrialConfig, spec: SweepSpec) -> TrialOutcome | None:
    """A zero-cost failed outcome when the planned peak of ``config`` exceeds the budget's
    ``max_memory_mb`` (the trial is never trained); None when it fits, or cannot be planned."""
    cap_mb = (spec.budget or {}).get("max_memory_mb")
    if cap_mb is None:
        return None
    import torch

    from pefomed.plan import PlanRequest, plan

    options = spec.train.options
    device = str(options.get("device", "auto"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    dtype = str(options.get("dtype", "auto"))
    if dtype == "auto":  # as the trial resolves it; without the model a CPU gets fp32, the larger plan
        from pefomed.train.step import resolve_dtype

        resolved = resolve_dtype("auto", torch.device("cuda" if cuda else "cpu"))
        dtype = "bf16" if resolved == torch.bfloat16 else "fp32"
    try:
        record = plan(PlanRequest(spec.model, config.method, parts=tuple(config.parts), layers=config.layers,
                                  settings=tuple(sorted(config.settings.items())),
                                  train_projector=config.train_projector, batch_size=config.batch_size,
                                  image_size=spec.image_size, max_pixels=spec.max_pixels, dtype=dtype,
                                  gradient_checkpointing=bool(options.get("gradient_checkpointing", False)),
                                  device="cuda" if cuda else "cpu"))
    except Exception:  # noqa: BLE001 - a model the planner cannot size is trained and measured instead
        return None
    peak_mb = record["peak_bytes"] / 1024 ** 2
    if peak_mb <= cap_mb or record["trainable_parameters"] == 0:  # nothing trains: no training budget
        return None
    return TrialOutcome(status="failed", reason=f"skipped: planned {peak_mb / 1024:.1f} GB > cap {cap_mb / 1024:.1f} GB "
                        f"(budget.max_memory_mb={cap_mb:g}); not trained", cost={"device_seconds": 0.0},
                        train={"skipped_by_plan": True, "planned_peak_mb": round(peak_mb, 1)})


def check_outcome(outcome: TrialOutcome, spec: SweepSpec) -> TrialOutcome:
    """Fail a 'complete' outcome whose objective values are missing or not finite."""
    if outcome.status != "complete":
        outcome.status = "failed"
        outcome.reason = outcome.reason or "the runner reported a failure without a reason"
        return outcome
    acc = (outcome.metrics.get(spec.objectives.accuracy) or {}).get("value")
    cost = outcome.cost.get(spec.objectives.cost)
    problem = None
    if acc is None:
        problem = (f"protocol {spec.objectives.accuracy!r} scored no question of the "
                   f"{spec.dataset.search_split} split (no question of its kind?)")
    elif not _finite(acc):
        problem = f"accuracy is not a finite number ({acc!r})"
    elif cost is None or not _finite(cost):
        problem = f"cost {spec.objectives.cost!r} is missing or not finite ({cost!r})"
    if problem:
        outcome.status, outcome.reason = "failed", problem
    return outcome


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def build_record(spec: SweepSpec, number: int, config: TrialConfig, params: dict[str, Any],
                 outcome: TrialOutcome, env: dict[str, Any], started: _dt.datetime,
                 retry_of: list[int] | None = None) -> dict[str, Any]:
    """The JSON record of one finished trial (see :mod:`pefomed.sweep.records`)."""
    ok = outcome.status == "complete"
    acc = (outcome.metrics.get(spec.objectives.accuracy) or {}).get("value") if ok else None
    cost = outcome.cost.get(spec.objectives.cost) if ok else None
    return json_safe({
        "schema": SCHEMA, "kind": "trial", "study": spec.study_name, "sweep": spec.name, "trial": number,
        "status": outcome.status, "reason": outcome.reason,
        "method": config.method, "label": config.label, "config": config.to_dict(), "params": dict(params),
        "objectives": {"accuracy": {"protocol": spec.objectives.accuracy, "value": acc},
                       "cost": {"name": spec.objectives.cost, "value": cost}},
        "metrics": outcome.metrics, "split": spec.dataset.search_split, "cost": outcome.cost,
        "train": outcome.train, "budget": dict(spec.budget), "seed": spec.seed, "model": spec.model,
        "dataset": outcome.dataset or {"name": spec.dataset.name, "split": spec.dataset.search_split},
        **env, "pid": os.getpid(), "run_dir": outcome.run_dir, "retry_of": retry_of or [],
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round((_dt.datetime.now() - started).total_seconds(), 3),
    })


def interrupted_record(spec: SweepSpec, trial: Any, why: str, env: dict[str, Any]) -> dict[str, Any]:
    """The record of a trial whose worker died mid-run (it is retried under a new number)."""
    # a queued trial killed while its parameters were being suggested has only some of them
    params = {**dict(trial.system_attrs.get("fixed_params") or {}), **dict(trial.params)}
    label = params.get("adapter")
    return {
        "schema": SCHEMA, "kind": "trial", "study": spec.study_name, "sweep": spec.name,
        "trial": trial.number, "status": "interrupted", "reason": f"worker died: {why}",
        "method": spec.adapter(label).name if label in {a.label for a in spec.adapters} else label,
        "label": label, "params": params, "objectives": {}, "metrics": {}, "cost": {},
        "seed": spec.seed, "model": spec.model, **env,
        "started": trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
    }
