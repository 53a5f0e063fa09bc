"""Pareto frontier, hypervolume and best-per-method on hand-built records."""
from __future__ import annotations

import pytest

from pefomed.sweep.pareto import (Point, best_per_method, dominates, frontier_records, hypervolume,
                                  normalised_hypervolume, pareto_front)
from tests.sweep.records_fixture import rec, sample_records


def test_dominance_needs_one_strict_improvement():
    a, b = Point(0, 0.8, 1.0), Point(1, 0.8, 1.0)
    assert not dominates(a, b) and not dominates(b, a)
    assert dominates(Point(2, 0.8, 0.5), a) and dominates(Point(3, 0.9, 1.0), a)
    assert not dominates(Point(4, 0.9, 2.0), a)


def test_front_keeps_ties_drops_dominated_and_orders_by_cost():
    front = frontier_records(sample_records())
    assert [r["trial"] for r in front] == [0, 2, 5, 4]  # tie (2, 5) both kept, by trial number


def test_front_ignores_failed_and_interrupted():
    records = [rec(0, "a", 0.5, 1.0), rec(1, "b", None, None, status="failed"),
               rec(2, "c", None, None, status="interrupted")]
    assert [r["trial"] for r in frontier_records(records)] == [0]


def test_front_of_identical_points_is_all_of_them():
    pts = [Point(i, 0.5, 1.0) for i in range(3)]
    assert pareto_front(pts) == pts


def test_hypervolume_by_hand():
    # ref (0, 10): points (acc, cost) (0.5, 2), (0.8, 6): area = (6-2)*0.5 + (10-6)*0.8 = 2 + 3.2
    assert hypervolume([(0.5, 2.0), (0.8, 6.0)], (0.0, 10.0)) == pytest.approx(5.2)
    # a dominated point and a duplicate add nothing
    assert hypervolume([(0.5, 2.0), (0.8, 6.0), (0.4, 7.0), (0.5, 2.0)], (0.0, 10.0)) == pytest.approx(5.2)
    # points outside the reference box add nothing
    assert hypervolume([(0.5, 12.0), (-0.1, 1.0)], (0.0, 10.0)) == 0.0
    assert hypervolume([], (0.0, 1.0)) == 0.0


def test_normalised_hypervolume_by_hand():
    records = [rec(0, "a", 0.5, 0.0), rec(1, "b", 1.0, 10.0)]
    # cost_ref = 1.1 * 10 = 11: normalised costs 0 and 10/11, ref (0, 1)
    expected = (10 / 11 - 0) * 0.5 + (1 - 10 / 11) * 1.0
    assert normalised_hypervolume(records) == pytest.approx(expected)
    assert normalised_hypervolume(records, cost_ref=20.0) == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    assert normalised_hypervolume([]) == 0.0


def test_best_per_method_prefers_accuracy_then_cost_then_number():
    records = [rec(0, "lora", 0.6, 3.0), rec(1, "lora", 0.7, 9.0), rec(2, "lora", 0.7, 4.0),
               rec(3, "ia3", 0.5, 1.0), rec(4, "ia3", 0.5, 1.0), rec(5, "ia3", None, None, status="failed")]
    best = best_per_method(records)
    assert best["lora"]["trial"] == 2 and best["ia3"]["trial"] == 3
    assert list(best) == ["lora", "ia3"]  # by accuracy
