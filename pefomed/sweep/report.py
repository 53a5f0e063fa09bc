"""Sweep reports, pure functions of the records: summary, terminal tables, Markdown and CSV.

    paths = write_reports("runs/sweeps/default")   # frontier.md, trials.csv, frontier.csv,
                                                   # frontier.png, frontier.html, summary.json

Nothing here needs the model or the study database: ``trials.jsonl`` is enough.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.sweep.pareto import best_per_method, frontier_records, normalised_hypervolume
from pefomed.sweep.records import RecordSet, read_records

FILES = ("frontier.md", "trials.csv", "frontier.csv", "frontier.png", "frontier.html", "summary.json")


@dataclass
class Summary:
    """What every report shows, computed once from the records of one study."""

    study: str
    model: str
    dataset: str
    protocol: str
    cost_name: str
    trials: list[dict[str, Any]]
    frontier: list[dict[str, Any]]
    best: dict[str, dict[str, Any]]
    finals: dict[int, dict[str, Any]]
    hypervolume: float
    skipped_lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def frontier_numbers(self) -> set[int]:
        return {r["trial"] for r in self.frontier}


def summarize(records: RecordSet, study: str | None = None) -> Summary:
    """The :class:`Summary` of ``study`` (optional when the records hold one study only)."""
    studies = sorted({str(r.get("study")) for r in records.records})
    if not studies:
        raise PefomedError("the sweep records hold no trial yet; run `pefomed sweep` first")
    if study is None:
        if len(studies) > 1:
            raise PefomedError(f"these records hold several studies ({', '.join(studies)}); pick one with --study")
        study = studies[0]
    elif study not in studies:
        raise PefomedError(f"no records of study {study!r}; the records hold {', '.join(studies)}")
    trials = [r for r in records.trials() if r.get("study") == study]
    finals = {r["trial"]: r for r in records.finals() if r.get("study") == study}
    first = next((r for r in trials if r.get("status") == "complete"), trials[0] if trials else {})
    obj = first.get("objectives") or {}
    counts = {s: sum(r.get("status") == s for r in trials) for s in ("complete", "failed", "interrupted")}
    ds = first.get("dataset") or {}
    return Summary(
        study=study, model=str(first.get("model", "?")), dataset=str(ds.get("name", "?")),
        protocol=str((obj.get("accuracy") or {}).get("protocol", "?")),
        cost_name=str((obj.get("cost") or {}).get("name", "?")),
        trials=trials, frontier=frontier_records(trials), best=best_per_method(trials), finals=finals,
        hypervolume=normalised_hypervolume(trials), skipped_lines=records.skipped_lines, counts=counts,
    )


# -- formatting helpers -------------------------------------------------------------------------
def fmt_settings(record: dict[str, Any]) -> str:
    """``r=8, alpha=16, lr=3.2e-03`` (the trial's searched and fixed settings)."""
    cfg = record.get("config") or {}
    items = [f"{k}={_short(v)}" for k, v in sorted((cfg.get("settings") or {}).items())]
    if cfg.get("lr") is not None:
        items.append(f"lr={cfg['lr']:.2e}")
    return ", ".join(items) or "-"


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def fmt_metric(m: dict[str, Any] | None) -> str:
    """``0.742 [0.69, 0.79]`` or ``-``."""
    if not m or m.get("value") is None:
        return "-"
    ci = m.get("ci95")
    return f"{m['value']:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def fmt_cost(value: Any, name: str) -> str:
    if value is None:
        return "-"
    if name in ("trainable_params", "adapter_bytes"):
        return f"{int(value):,}"
    return f"{value:.3g}"


def _acc(r: dict[str, Any], protocol: str) -> dict[str, Any] | None:
    return (r.get("metrics") or {}).get(protocol)


# -- rows (CSV) ---------------------------------------------------------------------------------
def trial_rows(s: Summary) -> list[dict[str, Any]]:
    """One flat row per trial: objectives, CI, every metric and cost figure, settings."""
    protocols = sorted({p for r in s.trials for p in (r.get("metrics") or {})})
    cost_keys = sorted({k for r in s.trials for k in (r.get("cost") or {})})
    rows = []
    for r in s.trials:
        obj = r.get("objectives") or {}
        acc = _acc(r, s.protocol) or {}
        ci = acc.get("ci95") or [None, None]
        row = {"trial": r["trial"], "status": r.get("status"), "reason": r.get("reason") or "",
               "method": r.get("method"), "label": r.get("label"),
               "on_frontier": r["trial"] in s.frontier_numbers,
               "accuracy": (obj.get("accuracy") or {}).get("value"), "accuracy_ci_low": ci[0],
               "accuracy_ci_high": ci[1], "cost": (obj.get("cost") or {}).get("value"),
               "lr": (r.get("config") or {}).get("lr"),
               "settings": json.dumps((r.get("config") or {}).get("settings") or {}, sort_keys=True)}
        row.update({f"metric:{p}": ((r.get("metrics") or {}).get(p) or {}).get("value") for p in protocols})
        row.update({f"cost:{k}": (r.get("cost") or {}).get(k) for k in cost_keys})
        row.update(run_dir=r.get("run_dir") or "", duration_s=r.get("duration_s"))
        rows.append(row)
    return rows


def frontier_rows(s: Summary) -> list[dict[str, Any]]:
    """The frontier, with report-split scores (value and 95% CI) where they were computed."""
    rows = []
    for r in s.frontier:
        acc = _acc(r, s.protocol) or {}
        fin = s.finals.get(r["trial"]) or {}
        fm = _acc(fin, s.protocol) or {}
        ci, fci = acc.get("ci95") or [None, None], fm.get("ci95") or [None, None]
        rows.append({
            "trial": r["trial"], "method": r.get("method"), "label": r.get("label"),
            "settings": fmt_settings(r), "search_accuracy": acc.get("value"), "search_ci_low": ci[0],
            "search_ci_high": ci[1], "cost": (r.get("objectives") or {}).get("cost", {}).get("value"),
            "report_split": fin.get("split", ""), "report_accuracy": fm.get("value"),
            "report_ci_low": fci[0], "report_ci_high": fci[1], "report_n": fm.get("n"),
            "trainable_params": (r.get("cost") or {}).get("trainable_params"), "run_dir": r.get("run_dir") or "",
        })
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text (columns: union of keys in first-seen order)."""
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in cols})
    return buf.getvalue()


# -- Markdown and terminal ----------------------------------------------------------------------
def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def clean(x: str) -> str:
        return str(x).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def frontier_table_rows(s: Summary) -> tuple[list[str], list[list[str]]]:
    report_split = next((f.get("split") for f in s.finals.values()), "report")
    header = ["trial", "method", "settings", f"{s.protocol} (search)", s.cost_name, f"{s.protocol} ({report_split})"]
    rows = []
    for r in s.frontier:
        fin = s.finals.get(r["trial"])
        final = fmt_metric(_acc(fin, s.protocol)) if fin and fin.get("status") == "complete" else (
            f"failed: {fin.get('reason')}" if fin else "-")
        rows.append([str(r["trial"]), str(r.get("label")), fmt_settings(r), fmt_metric(_acc(r, s.protocol)),
                     fmt_cost(r["objectives"]["cost"]["value"], s.cost_name), final])
    return header, rows


def best_table_rows(s: Summary) -> tuple[list[str], list[list[str]]]:
    header = ["method", "trial", "settings", f"{s.protocol} (search)", s.cost_name, "on frontier"]
    rows = [[m, str(r["trial"]), fmt_settings(r), fmt_metric(_acc(r, s.protocol)),
             fmt_cost(r["objectives"]["cost"]["value"], s.cost_name),
             "yes" if r["trial"] in s.frontier_numbers else ""]
            for m, r in s.best.items()]
    return header, rows


def headline(s: Summary) -> str:
    c = s.counts
    return (f"study {s.study}: {s.model} on {s.dataset}; maximise {s.protocol}, minimise {s.cost_name}; "
            f"{c.get('complete', 0)} complete, {c.get('failed', 0)} failed, {c.get('interrupted', 0)} "
            f"interrupted; frontier of {len(s.frontier)}; hypervolume {s.hypervolume:.4f}")


def markdown(s: Summary) -> str:
    """``frontier.md``: headline, frontier (with report-split scores), best per method, failures."""
    parts = [f"# Sweep `{s.study}`", "", headline(s) + ".", "",
             "Hypervolume: area dominated by the complete trials in (accuracy, cost / (1.1 x max cost)) "
             "with reference point (0, 1); 1 = accuracy 1 at zero cost.", "",
             "## Pareto frontier", "", _md_table(*frontier_table_rows(s)), "",
             "## Best configuration per method", "", _md_table(*best_table_rows(s)), ""]
    failed = [r for r in s.trials if r.get("status") in ("failed", "interrupted")]
    if failed:
        parts += ["## Failed and interrupted trials", "",
                  _md_table(["trial", "method", "status", "reason"],
                            [[str(r["trial"]), str(r.get("label")), str(r.get("status")), str(r.get("reason"))]
                             for r in failed]), ""]
    if s.skipped_lines:
        parts += [f"{s.skipped_lines} damaged line(s) in trials.jsonl were skipped (a killed writer).", ""]
    return "\n".join(parts)


def rich_tables(s: Summary) -> list[Any]:
    """Terminal tables (rich): the frontier and the best configuration per method."""
    from rich.table import Table

    out = []
    for title, (header, rows) in (("Pareto frontier", frontier_table_rows(s)),
                                  ("Best per method", best_table_rows(s))):
        table = Table(title=title)
        for h in header:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        out.append(table)
    return out


def summary_json(s: Summary) -> dict[str, Any]:
    return {"study": s.study, "model": s.model, "dataset": s.dataset, "protocol": s.protocol,
            "cost": s.cost_name, "counts": s.counts, "hypervolume": s.hypervolume,
            "frontier": frontier_rows(s), "best_per_method": {m: r["trial"] for m, r in s.best.items()}}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_reports(run_dir: str | Path, *, study: str | None = None, out_dir: str | Path | None = None,
                  plots: bool = True) -> dict[str, Path]:
    """Regenerate every report file from ``<run_dir>/trials.jsonl``; returns name -> path."""
    s = summarize(read_records(run_dir), study)
    out = Path(out_dir or run_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in FILES}
    _write(paths["frontier.md"], markdown(s))
    _write(paths["trials.csv"], to_csv(trial_rows(s)))
    _write(paths["frontier.csv"], to_csv(frontier_rows(s)))
    _write(paths["summary.json"], json.dumps(summary_json(s), indent=2, allow_nan=False) + "\n")
    if plots:
        from pefomed.sweep.plots import write_html, write_png

        write_png(s, paths["frontier.png"])
        write_html(s, paths["frontier.html"])
    else:
        paths = {k: v for k, v in paths.items() if not k.endswith((".png", ".html"))}
    return paths
