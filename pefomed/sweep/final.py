"""After the search: score each frontier trial's saved adapter on the report split, once.

The report split is touched only here, never by the search. Results are records too
(``kind: "final"``, keyed by the frontier trial's number), so ``pefomed report`` shows them
without a model. Workers on one machine take turns through a file lock and skip trials that
already have a final record; a trial whose run folder is on another machine is left to that
machine's worker.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from pefomed.sweep.objective import TrialOutcome, one_line
from pefomed.sweep.pareto import frontier_records
from pefomed.sweep.records import SCHEMA, append_record, json_safe, read_records
from pefomed.sweep.spec import SweepSpec

LOCK_FILE = ".final.lock"


def final_record(spec: SweepSpec, trial: dict[str, Any], outcome: TrialOutcome,
                 env: dict[str, Any]) -> dict[str, Any]:
    """The report-split record of one frontier trial (cost carried over from its trial)."""
    ok = outcome.status == "complete"
    protocol = spec.objectives.accuracy
    acc = (outcome.metrics.get(protocol) or {}).get("value") if ok else None
    cost = trial.get("objectives", {}).get("cost", {})
    return json_safe({
        "schema": SCHEMA, "kind": "final", "study": spec.study_name, "sweep": spec.name,
        "trial": trial["trial"], "status": outcome.status, "reason": outcome.reason,
        "method": trial.get("method"), "label": trial.get("label"), "config": trial.get("config"),
        "objectives": {"accuracy": {"protocol": protocol, "value": acc}, "cost": dict(cost)},
        "metrics": outcome.metrics, "split": spec.dataset.report_split, "cost": trial.get("cost", {}),
        "seed": spec.seed, "model": spec.model, "dataset": outcome.dataset, **env, "pid": os.getpid(),
        "run_dir": trial.get("run_dir"),
    })


def finalize(spec: SweepSpec, runner: Any, records_file: Path, env: dict[str, Any]) -> int:
    """Evaluate the frontier trials lacking a final record; returns how many were evaluated."""
    final = getattr(runner, "final", None)
    if final is None or not records_file.is_file():
        return 0
    done = 0
    with open(records_file.parent / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            records = read_records(records_file)
            have = {r["trial"] for r in records.finals() if r.get("study") == spec.study_name}
            trials = [r for r in records.trials() if r.get("study") == spec.study_name]
            for rec in frontier_records(trials):
                if rec["trial"] in have or not rec.get("run_dir") or not Path(rec["run_dir"]).is_dir():
                    continue
                try:
                    outcome = final(rec)
                except Exception as exc:  # one broken adapter must not hide the others
                    outcome = TrialOutcome(status="failed", reason=one_line(exc))
                append_record(records_file, final_record(spec, rec, outcome, env))
                done += 1
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return done
