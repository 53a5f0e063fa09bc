"""Reports are regenerated from trials.jsonl alone: files, CSV content, Markdown table, plots."""
from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from pefomed.cli import main
from pefomed.errors import PefomedError
from pefomed.sweep.records import append_record, records_path
from pefomed.sweep.report import FILES, markdown, summarize, write_reports
from pefomed.sweep.records import read_records
from tests.sweep.records_fixture import final, rec, sample_records


@pytest.fixture
def run_dir(tmp_path):
    path = records_path(tmp_path / "run")
    for r in sample_records() + [final(4, 0.77), final(0, 0.31)]:
        append_record(path, r)
    return tmp_path / "run"


def test_write_reports_from_records_only(run_dir):
    paths = write_reports(run_dir)
    assert sorted(paths) == sorted(FILES)
    for p in paths.values():
        assert p.is_file() and p.stat().st_size > 0
    assert paths["frontier.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = paths["frontier.html"].read_text()
    assert "plotly" in html and len(html) > 1_000_000  # plotly.js embedded: opens offline
    assert "Pareto frontier" in html


def test_trials_csv_has_every_trial_and_frontier_flags(run_dir):
    rows = list(csv.DictReader(io.StringIO((write_reports(run_dir, plots=False)["trials.csv"]).read_text())))
    assert [int(r["trial"]) for r in rows] == list(range(9))
    on = {int(r["trial"]) for r in rows if r["on_frontier"] == "True"}
    assert on == {0, 2, 4, 5}
    by = {int(r["trial"]): r for r in rows}
    assert by[7]["status"] == "failed" and "memory cap" in by[7]["reason"]
    assert float(by[2]["accuracy"]) == 0.6 and float(by[2]["cost"]) == 2.0
    assert float(by[2]["metric:open-exact"]) == 0.3 and float(by[2]["accuracy_ci_low"]) == pytest.approx(0.5)


def test_frontier_csv_carries_report_split_scores(run_dir):
    path = write_reports(run_dir, plots=False)["frontier.csv"]
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [int(r["trial"]) for r in rows] == [0, 2, 5, 4]
    by = {int(r["trial"]): r for r in rows}
    assert float(by[4]["report_accuracy"]) == 0.77 and by[4]["report_split"] == "test"
    assert float(by[4]["report_ci_low"]) == pytest.approx(0.72)
    assert by[2]["report_accuracy"] == ""  # not evaluated (yet)


def test_markdown_tables(run_dir):
    md = markdown(summarize(read_records(run_dir)))
    lines = md.splitlines()
    head = lines.index("## Pareto frontier")
    table = lines[head + 2: head + 2 + 2 + 4]
    assert table[0].startswith("| trial | method | settings | closed-lenient (search) | device_seconds |")
    assert table[1].startswith("|---|")
    assert table[5].startswith("| 4 | full |") and "0.770 [0.72, 0.82]" in table[5]
    assert "## Best configuration per method" in md
    assert "| 7 | lora | failed | memory cap exceeded" in md
    assert "4 complete" not in md and "7 complete, 1 failed, 1 interrupted; frontier of 4" in md


def test_summary_json(run_dir):
    data = json.loads(write_reports(run_dir, plots=False)["summary.json"].read_text())
    assert data["counts"] == {"complete": 7, "failed": 1, "interrupted": 1}
    assert [r["trial"] for r in data["frontier"]] == [0, 2, 5, 4]
    assert 0 < data["hypervolume"] < 1


def test_several_studies_need_a_choice(tmp_path):
    path = records_path(tmp_path)
    append_record(path, rec(0, "a", 0.5, 1.0, study="x"))
    append_record(path, rec(0, "a", 0.6, 1.0, study="y"))
    with pytest.raises(PefomedError, match="several studies"):
        write_reports(tmp_path, plots=False)
    assert summarize(read_records(tmp_path), "y").frontier[0]["objectives"]["accuracy"]["value"] == 0.6


def test_cli_report_regenerates_everything(run_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Pareto frontier" in result.output and "hypervolume" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


def test_cli_report_on_empty_dir_is_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no sweep records" in result.output


def test_reports_of_a_sweep_where_every_trial_failed(tmp_path):
    path = records_path(tmp_path)
    append_record(path, rec(0, "lora", None, None, status="failed", reason="NaN"))
    paths = write_reports(tmp_path)
    assert all(p.stat().st_size > 0 for p in paths.values())
    assert "0 complete, 1 failed" in paths["frontier.md"].read_text()
    assert json.loads(paths["summary.json"].read_text())["frontier"] == []
