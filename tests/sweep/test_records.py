"""trials.jsonl: append-only, one record per line, tolerant of a writer killed mid-line."""
from __future__ import annotations

import json

import pytest

from pefomed.errors import PefomedError
from pefomed.sweep.records import append_record, objective_values, read_records, records_path
from tests.sweep.records_fixture import final, rec


def test_append_and_read_back(tmp_path):
    path = records_path(tmp_path)
    for r in (rec(0, "a", 0.5, 1.0), rec(1, "b", 0.6, 2.0), final(1, 0.55)):
        append_record(path, r)
    rs = read_records(tmp_path)
    assert [r["trial"] for r in rs.trials()] == [0, 1]
    assert [r["trial"] for r in rs.finals()] == [1]
    assert rs.skipped_lines == 0
    assert all(line.endswith("}") for line in path.read_text().splitlines())


def test_truncated_last_line_is_skipped_and_next_append_is_intact(tmp_path):
    path = records_path(tmp_path)
    append_record(path, rec(0, "a", 0.5, 1.0))
    line = json.dumps(rec(1, "b", 0.6, 2.0))
    with open(path, "a") as fh:  # a writer killed half-way through its line
        fh.write(line[: len(line) // 2])
    assert [r["trial"] for r in read_records(path).trials()] == [0]
    assert read_records(path).skipped_lines == 1
    append_record(path, rec(2, "c", 0.7, 3.0))
    rs = read_records(path)
    assert [r["trial"] for r in rs.trials()] == [0, 2] and rs.skipped_lines == 1


def test_same_trial_twice_keeps_the_last(tmp_path):
    path = records_path(tmp_path)
    append_record(path, rec(3, "a", 0.5, 1.0))
    append_record(path, rec(3, "a", 0.6, 1.0))
    assert [r["objectives"]["accuracy"]["value"] for r in read_records(path).trials()] == [0.6]


def test_missing_records_is_a_user_error(tmp_path):
    with pytest.raises(PefomedError, match="no sweep records"):
        read_records(tmp_path)


def test_nan_is_refused_at_write_time(tmp_path):
    with pytest.raises(ValueError):
        append_record(records_path(tmp_path), rec(0, "a", float("nan"), 1.0))


def test_objective_values_only_for_complete():
    assert objective_values(rec(0, "a", 0.5, 1.0)) == (0.5, 1.0)
    assert objective_values(rec(0, "a", None, None, status="failed")) is None
