"""Run one sweep trial in a fresh Python process (``execution.isolation: process``).

The worker writes a JSON job (the resolved spec, the trial's config, its folder), starts
a child Python process on it and waits; the child builds the runner, runs the trial
guarded exactly as in-process, and writes ``outcome.json`` atomically. Whatever happens to the
child — an exception, an out-of-memory kill, a segfault, a wedged CUDA context — the worker
gets an outcome and goes on, and the worker's own heartbeat keeps the trial alive meanwhile.
If the worker itself dies, the child notices that its parent is gone and exits, so no orphan
keeps training. JSON in both directions: nothing is unpickled.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from pefomed.sweep.objective import TrialContext, TrialOutcome, check_outcome, run_guarded
from pefomed.sweep.space import TrialConfig
from pefomed.sweep.spec import SweepSpec

DEFAULT_FACTORY = "pefomed.sweep.runner:RecipeRunner"
JOB_FILE = "job.json"
OUTCOME_FILE = "outcome.json"
LOG_FILE = "trial.log"
CHILD = "import sys; from pefomed.sweep.isolated import child_main; sys.exit(child_main(sys.argv[1]))"
#: how long an interrupted child gets to abandon its trial cleanly before it is killed
STOP_GRACE_S = 30


def load_factory(path: str) -> Any:
    """``"package.module:Name"`` -> the object (a runner class or factory taking the spec)."""
    import importlib

    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def run_isolated(spec: SweepSpec, config: TrialConfig, ctx: TrialContext,
                 factory: str = DEFAULT_FACTORY) -> TrialOutcome:
    """Run the trial in a child process and return its outcome (a failed one if the child died)."""
    work = process_dir(ctx.out_dir)
    work.mkdir(parents=True, exist_ok=True)
    job = work / JOB_FILE
    outcome_file = work / OUTCOME_FILE
    outcome_file.unlink(missing_ok=True)
    cfg = asdict(config)
    cfg["parts"] = list(config.parts)
    job.write_text(json.dumps({"spec": spec.to_raw(), "where": spec.source, "config": cfg,
                               "number": ctx.number, "out_dir": str(ctx.out_dir), "factory": factory,
                               "parent_pid": os.getpid()}))
    log_path = work / LOG_FILE
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(job)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # the child got the same SIGINT from the terminal; let it stop
            _stop(proc)
            raise
    if outcome_file.is_file():
        try:
            data = json.loads(outcome_file.read_text())
            return check_outcome(TrialOutcome(**{f.name: data[f.name] for f in fields(TrialOutcome)
                                                 if f.name in data}), spec)
        except (ValueError, TypeError) as exc:
            return TrialOutcome(status="failed", reason=f"the trial process wrote an unreadable "
                                f"{outcome_file} ({exc})", run_dir=str(ctx.out_dir))
    return TrialOutcome(status="failed", reason=died_reason(code, log_path), run_dir=str(ctx.out_dir))


def process_dir(out_dir: Path) -> Path:
    """Where the job, the child's output and its outcome go: beside the trial's run folder (which
    the recipe wants empty), hidden from listings of the trial folders."""
    return out_dir.with_name(f".{out_dir.name}.process")


def died_reason(code: int, log_path: Path) -> str:
    """One line for a trial process that ended without an outcome."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = (" (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL
                else "")
        return f"the trial process was killed by {name}{hint}; its output is in {log_path}"
    return f"the trial process exited with status {code} without a result; its output is in {log_path}"


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _exit_when_orphaned(parent: int) -> None:
    """A trial whose worker died must not go on training unseen (its trial is re-queued)."""
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="orphan-watch").start()


def child_main(job_path: str) -> int:
    """The child's side: run the job's trial and write ``outcome.json`` (tmp + rename)."""
    job = json.loads(Path(job_path).read_text())
    _exit_when_orphaned(int(job["parent_pid"]))
    from pefomed.cli.app import _quiet_libraries
    from pefomed.sweep.validate import parse_spec

    _quiet_libraries()
    spec = parse_spec(job["spec"], where=job["where"])
    cfg = dict(job["config"])
    cfg["parts"] = tuple(cfg["parts"])
    config = TrialConfig(**cfg)
    runner = load_factory(job["factory"])(spec)
    ctx = TrialContext(spec, int(job["number"]), Path(job["out_dir"]), getattr(runner, "feature_cache", None))
    outcome = run_guarded(runner, config, ctx)
    out = process_dir(ctx.out_dir) / OUTCOME_FILE
    tmp = out.with_suffix(".tmp")
    from pefomed.sweep.records import json_safe

    tmp.write_text(json.dumps(json_safe(asdict(outcome))))
    os.replace(tmp, out)
    return 0

