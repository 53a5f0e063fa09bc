"""`pefomed report` on a damaged trials.jsonl names the bad line instead of claiming the file is
empty; only a torn last line (a writer killed mid-line) is skipped, and said so."""
from __future__ import annotations

import json

import pytest

from pefomed.sweep.records import append_record, read_records, records_path
from tests.sweep.records_fixture import rec

from .conftest import assert_one_line, assert_refused, cli, snapshot


@pytest.mark.parametrize("garbage, line", [
    (b"hello world\n", 1), (b"\x00\xff\xfe\n", 1), (b"[1, 2, 3]\n", 1), (b'{"trial": 3}\n', 1),
    (b"42\n", 1),
])
def test_garbage_is_named_by_line(tmp_path, garbage, line):
    records_path(tmp_path).write_bytes(garbage)
    with pytest.raises(Exception) as info:
        read_records(tmp_path)
    assert_one_line(info.value, f"line {line}", "trials.jsonl")


def test_garbage_after_good_records_is_named(tmp_path):
    path = records_path(tmp_path)
    append_record(path, rec(0, "a", 0.5, 1.0))
    with open(path, "ab") as fh:
        fh.write(b"not json at all\n")
    append_record(path, rec(1, "b", 0.6, 2.0))
    with pytest.raises(Exception) as info:
        read_records(tmp_path)
    assert_one_line(info.value, "line 2")


def test_a_torn_line_is_still_skipped(tmp_path):
    path = records_path(tmp_path)
    append_record(path, rec(0, "a", 0.5, 1.0))
    text = json.dumps(rec(1, "b", 0.6, 2.0))
    with open(path, "a") as fh:
        fh.write(text[: len(text) // 2])
    assert read_records(tmp_path).skipped_lines == 1


def test_cli_report_names_the_bad_line_and_writes_nothing(tmp_path):
    records_path(tmp_path).write_bytes(b"garbage\nmore garbage\n")
    before = snapshot(tmp_path)
    result = cli("report", tmp_path, "--no-plots")
    assert_refused(result, "line 1", "trials.jsonl")
    assert snapshot(tmp_path) == before
