"""One run's life around the training loop: logs, evaluation while training, checkpoints, signals.

:class:`Session` is the :class:`~pefomed.train.loop.TrainHooks` that :func:`run_finetune` gives
the loop. After each step it logs the metrics, scores the validation split every
``eval_every`` steps (keeping the best step's checkpoint), saves every ``save_every`` steps and
stops the run on SIGINT/SIGTERM (after the step in flight, with a checkpoint) or when early
stopping's patience is spent. ``spend.json`` records the budget spent after every step, so
time spent after the last checkpoint still counts when a killed run is resumed.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pefomed.train import checkpoint as ckpt
from pefomed.train.loop import StepInfo, TrainHooks
from pefomed.train.reporting import Reporters

SPEND_FILE = "spend.json"


class Session(TrainHooks):
    def __init__(self, spec: Any, run_dir: Path | None, adapted: Any, val_records: list | None, *,
                 resume: dict[str, Any] | None = None, note: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.control = spec.control
        self.run_dir = run_dir
        self.adapted = adapted
        self.val_records = val_records
        self.note = note or (lambda text: None)
        saved = (resume or {}).get("session", {})
        self.evaluations: list[dict[str, Any]] = list(saved.get("evaluations", []))
        self.best: dict[str, Any] | None = saved.get("best")
        self.stale = saved.get("stale", 0)  # evaluations since the best
        self.last_saved: int | None = resume["step"] if resume else None
        self.interrupted: int | None = None
        self.reporters = Reporters(run_dir, self.control.report_to, spec.to_dict(),
                                   resume_step=resume["step"] if resume else None)

    # --- hooks ------------------------------------------------------------------------------
    def after_step(self, info: StepInfo, snapshot: Callable[[], dict[str, Any]]) -> str | None:
        c = self.control
        values = {f"train/{k}": v for k, v in asdict(info).items() if k != "step"}
        self.reporters.log(info.step, values)
        self._write_spend(info)
        stop = None
        if c.eval_every is not None and self.val_records is not None and info.step % c.eval_every == 0:
            stop = self._evaluate(info.step, snapshot)
        if c.save_every is not None and info.step % c.save_every == 0 and self.last_saved != info.step:
            self._save(snapshot)
        if self.interrupted is not None:
            return "interrupted"
        return stop

    def at_end(self, stop: str, snapshot: Callable[[], dict[str, Any]]) -> None:
        if self.run_dir is None:
            return
        wanted = self.control.save_every is not None or stop == "interrupted"
        state = None
        if wanted and self.last_saved != (state := snapshot())["step"]:
            self._save(lambda: state)

    def close(self) -> None:
        self.reporters.close()

    # --- signals ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def signals(self):
        """SIGINT/SIGTERM stop the run after the current step (a checkpoint is written); a second
        signal acts as usual. Only where a checkpoint can be written (a run folder, or any process
        of a data-parallel run) and in the main thread."""
        from pefomed.train.distributed import launched

        # every data-parallel process must see it (a launcher signals them all; rank 0 decides)
        wanted = self.run_dir is not None or launched()
        if not wanted or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def stop(signum, frame):
            self.interrupted = signum
            self.note(f"{signal.Signals(signum).name}: stopping after this step and writing a checkpoint "
                      "(send it again to stop at once)")
            for s, handler in previous.items():
                signal.signal(s, handler)

        for s in previous:
            signal.signal(s, stop)
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    # --- internals --------------------------------------------------------------------------
    def _evaluate(self, step: int, snapshot: Callable[[], dict[str, Any]]) -> str | None:
        from pefomed.evaluation import evaluate

        c = self.control
        result = evaluate(self.adapted, self.val_records, protocols=[c.metric], bootstrap=0,
                          seed=self.spec.seed, progress=False)
        value = result.value(c.metric)
        self.evaluations.append({"step": step, "metric": c.metric, "value": value, "n": result.n})
        self.reporters.log(step, {f"eval/{c.metric}": value})
        improved = value is not None and (self.best is None or value > self.best["value"])
        if improved:
            self.best = {"step": step, "metric": c.metric, "value": value}
            self.stale = 0
        else:
            self.stale += 1
        shown = "-" if value is None else f"{value:.4f}"
        self.note(f"eval step {step}: {c.metric} {shown}" + ("  (best)" if improved else
                                                               f"  (best {self.best['value']:.4f} at step "
                                                               f"{self.best['step']})" if self.best else ""))
        if improved and self.run_dir is not None:
            self._save(snapshot)
            self.best["checkpoint"] = str(self.run_dir / ckpt.CHECKPOINTS_DIR / f"step-{step}")
            ckpt.write_best(self.run_dir, self.best)
        if c.patience is not None and self.stale >= c.patience:
            self.note(f"early stopping: {c.metric} did not improve in {c.patience} evaluations")
            return "early_stopping"
        return None

    def _save(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        if self.run_dir is None:
            return
        state = snapshot()
        state["session"] = {"evaluations": self.evaluations, "best": self.best, "stale": self.stale}
        ckpt.save_checkpoint(self.run_dir, state, self.adapted, keep_last=self.control.keep_last,
                             best_step=self.best["step"] if self.best else None)
        self.last_saved = state["step"]

    def _write_spend(self, info: StepInfo) -> None:
        if self.run_dir is None:
            return
        path = self.run_dir / SPEND_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"step": info.step, "wall_seconds": info.wall_seconds,
                                   "device_seconds": info.device_seconds}), encoding="utf-8")
        os.replace(tmp, path)


def spent_before(run_dir: Path, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the seconds spent up to the kill, not just up to its checkpoint."""
    path = run_dir / SPEND_FILE
    if path.is_file():
        spend = json.loads(path.read_text(encoding="utf-8"))
        for key in ("wall_seconds", "device_seconds"):
            state[key] = max(state[key], float(spend[key]))
    return state
