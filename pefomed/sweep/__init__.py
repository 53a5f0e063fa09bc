"""Adapter sweeps: for a model, a Med-VQA dataset and a per-trial budget, which adapter and which
settings give the best accuracy for what they cost?

    from pefomed.sweep import load_spec, run_sweep, write_reports
    spec = load_spec("sweeps/default.yaml", overrides={"n_trials": 20})
    result = run_sweep(spec)                 # resumable; several workers may share the study
    write_reports(result.run_dir)            # frontier.md/.csv/.png/.html, trials.csv, summary.json

The study is a plain Optuna RDB study: ``optuna-dashboard sqlite:///runs/sweeps/default/study.db``.
"""
from pefomed.sweep.engine import Sweep, SweepResult, run_sweep
from pefomed.sweep.objective import Runner, TrialContext, TrialOutcome
from pefomed.sweep.pareto import (Point, best_per_method, frontier_records, hypervolume,
                                  normalised_hypervolume, pareto_front)
from pefomed.sweep.records import RECORDS_FILE, RecordSet, append_record, read_records
from pefomed.sweep.report import summarize, write_reports
from pefomed.sweep.space import TrialConfig
from pefomed.sweep.spec import SpecError, SweepSpec, load_spec
from pefomed.sweep.validate import parse_spec

__all__ = [
    "RECORDS_FILE", "Point", "RecordSet", "Runner", "SpecError", "Sweep", "SweepResult", "SweepSpec",
    "TrialConfig", "TrialContext", "TrialOutcome", "append_record", "best_per_method", "frontier_records",
    "hypervolume", "load_spec", "normalised_hypervolume", "pareto_front", "parse_spec", "read_records",
    "run_sweep", "summarize", "write_reports",
]
