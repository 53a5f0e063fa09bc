"""Pareto frontier, 2-D hypervolume and best-per-method: pure functions of trial records.

Objectives: accuracy is maximised, cost minimised. Only complete trials take part.

Dominance: ``a`` dominates ``b`` when ``a.accuracy >= b.accuracy`` and ``a.cost <= b.cost``
with at least one strict. **Tie rule:** trials with exactly equal (accuracy, cost) do not
dominate each other, so every one of them is on the frontier; the frontier is listed by
cost ascending, then accuracy descending, then trial number.

Hypervolume: the area dominated by the points inside the box bounded by the reference point
``(accuracy = ref_accuracy, cost = ref_cost)``; points with ``accuracy <= ref_accuracy`` or
``cost >= ref_cost`` add nothing. :func:`normalised_hypervolume` divides every cost by
``cost_ref`` (default: 1.1 x the largest cost among the complete trials, so the costliest
trial still adds area) and uses the reference point (accuracy 0, normalised cost 1): the
result lies in [0, 1], 1 meaning accuracy 1 at zero cost. Compare two sweeps with one
explicit ``cost_ref``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pefomed.errors import PefomedError
from pefomed.sweep.records import objective_values

#: normalised_hypervolume's default cost reference, as a multiple of the largest cost
COST_REF_FACTOR = 1.1


@dataclass(frozen=True)
class Point:
    """One complete trial in objective space; ``key`` is its trial number."""

    key: int
    accuracy: float
    cost: float


def dominates(a: Point, b: Point) -> bool:
    """True when ``a`` is at least as good in both objectives and strictly better in one."""
    return (a.accuracy >= b.accuracy and a.cost <= b.cost
            and (a.accuracy > b.accuracy or a.cost < b.cost))


def _order(p: Point) -> tuple:
    return (p.cost, -p.accuracy, p.key)


def pareto_front(points: Iterable[Point]) -> list[Point]:
    """The non-dominated points (ties all kept), by cost, then accuracy descending, then key."""
    pts = list(points)
    front = [p for p in pts if not any(dominates(q, p) for q in pts)]
    return sorted(front, key=_order)


def points_of(records: Iterable[dict[str, Any]]) -> list[Point]:
    """Objective points of the complete trial records (others are skipped)."""
    out = []
    for r in records:
        values = objective_values(r)
        if values is not None and r.get("kind", "trial") == "trial":
            out.append(Point(int(r["trial"]), *values))
    return out


def frontier_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The complete trial records on the Pareto frontier, in frontier order."""
    by_trial = {int(r["trial"]): r for r in records if r.get("kind", "trial") == "trial"}
    return [by_trial[p.key] for p in pareto_front(points_of(records))]


def hypervolume(points: Iterable[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by ``(accuracy, cost)`` points w.r.t. ``ref = (ref_accuracy, ref_cost)``.

    Dominated and duplicate points are allowed (they add nothing). Sweeping costs in increasing
    order, each segment ``[c_i, c_{i+1})`` (the last ends at ``ref_cost``) is covered up to the
    best accuracy among points costing at most ``c_i``.
    """
    ref_acc, ref_cost = ref
    inside = sorted((c, a) for a, c in points if a > ref_acc and c < ref_cost)
    area, best = 0.0, ref_acc
    for i, (c, a) in enumerate(inside):
        best = max(best, a)
        nxt = inside[i + 1][0] if i + 1 < len(inside) else ref_cost
        area += (nxt - c) * (best - ref_acc)
    return area


def normalised_hypervolume(records: Sequence[dict[str, Any]], *, cost_ref: float | None = None) -> float:
    """Hypervolume of the complete trials with costs divided by ``cost_ref`` (see module doc)."""
    pts = points_of(records)
    if not pts:
        return 0.0
    if cost_ref is None:
        cost_ref = COST_REF_FACTOR * max(p.cost for p in pts)
        if cost_ref <= 0:  # every trial cost nothing: only accuracy matters
            return max(p.accuracy for p in pts)
    elif cost_ref <= 0:
        raise PefomedError(f"cost_ref > 0 must hold, but got cost_ref={cost_ref!r}")
    return hypervolume([(p.accuracy, p.cost / cost_ref) for p in pts], (0.0, 1.0))


def best_per_method(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each method (its sweep label), the most accurate complete trial (ties: lower cost, then
    lower trial number), ordered by that accuracy."""
    best: dict[str, tuple[tuple, dict[str, Any]]] = {}
    for r in records:
        values = objective_values(r)
        if values is None or r.get("kind", "trial") != "trial":
            continue
        key = (-values[0], values[1], int(r["trial"]))
        label = str(r.get("label") or r.get("method", "?"))
        if label not in best or key < best[label][0]:
            best[label] = (key, r)
    return {m: best[m][1] for m in sorted(best, key=lambda m: best[m][0])}
