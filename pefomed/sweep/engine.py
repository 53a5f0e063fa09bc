"""The sweep engine: one worker's loop over an Optuna multi-objective study.

    result = run_sweep(load_spec("sweeps/default.yaml"))

Objectives: accuracy (an evaluation protocol, maximised) and a cost (minimised). The adapter
choice is a categorical; each method's hyperparameters are namespaced by its label. One
"catalogue defaults" trial per method is queued first, so every method is tried; then the
sampler explores. Several workers (processes, machines) share a study through its RDB storage
(``--storage URL --study NAME`` on each); :mod:`pefomed.sweep.study` explains why exactly
``n_trials`` finish and how crashed trials are retried. Re-running the same command resumes.

No early stopping: Optuna's pruners do not support multi-objective studies, and every trial
already runs under the same fixed :class:`~pefomed.train.budget.Budget`, so each trial costs at
most one budget. Frozen image features are computed once per sweep (one ``FeatureCache``
shared by all trials of a worker).
"""
from __future__ import annotations

import datetime as _dt
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.sweep import study as st
from pefomed.sweep.isolated import DEFAULT_FACTORY, load_factory, run_isolated
from pefomed.sweep.objective import (Runner, TrialContext, build_record, interrupted_record,
                                     run_guarded)
from pefomed.sweep.records import (RecordSet, append_record, environment, objective_values,
                                   read_records, records_path)
from pefomed.sweep.space import ADAPTER_PARAM, default_params, grid_params, method_space, suggest
from pefomed.sweep.spec import SweepSpec

POLL_S = 1.0
#: after this many sampler proposals in a row repeat finished configurations, a method with
#: something left to search is queued; after MAX_REPEATS the space counts as exhausted
EXPLORE_AFTER = 3
MAX_REPEATS = 30


@dataclass
class SweepResult:
    """Where a sweep's results are and what this worker saw at the end."""

    spec: SweepSpec
    run_dir: Path
    storage_url: str
    study_name: str
    finished: int
    ran: int
    records: RecordSet
    elapsed_s: float
    exhausted: bool = False  # stopped early: every method's search space was used up


class _Heartbeat:
    """Records the trial's heartbeat every ``interval`` s until stopped (first beat at once)."""

    def __init__(self, storage: Any, trial_id: int, interval: float) -> None:
        self._stop = threading.Event()
        storage.record_heartbeat(trial_id)

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    storage.record_heartbeat(trial_id)
                except Exception:  # a missed beat is retried next interval
                    pass

        self._thread = threading.Thread(target=beat, daemon=True, name=f"heartbeat-{trial_id}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def make_sampler(spec: SweepSpec, seed: int) -> Any:
    """The Optuna sampler named in the spec (grid = queued combinations + random fallback)."""
    import optuna
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        if spec.sampler == "tpe":
            startup = max(len(spec.adapters), 5)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
        if spec.sampler == "nsga2":
            pop = max(4, min(50, (spec.n_trials or 20) // 3))
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=pop)
        return optuna.samplers.RandomSampler(seed=seed)


def _catalogue_defaults(name: str) -> dict[str, Any]:
    from pefomed.adapters import get_adapter

    entry = get_adapter(name)
    return {**(getattr(entry, "defaults", None) or {}), **(getattr(entry, "train_defaults", None) or {})}


class Sweep:
    """One worker on one study. ``runner`` defaults to the fine-tuning recipe."""

    def __init__(self, spec: SweepSpec, *, runner: Runner | None = None, runner_factory: str | None = None,
                 display: Any = None, heartbeat: int | None = None, grace: int | None = None,
                 final_eval: bool = True) -> None:
        self.spec = spec
        self.run_dir = spec.run_path
        self.records_file = records_path(self.run_dir)
        self.runner = runner
        # trials can run in fresh processes only with a runner those processes can import
        self.runner_factory = None if runner is not None else (runner_factory or DEFAULT_FACTORY)
        self.isolated = self._isolated()
        self.display = display
        self.final_eval = final_eval
        self.heartbeat = heartbeat or spec.execution.heartbeat_s
        self.storage = st.open_storage(spec.storage_url, heartbeat=self.heartbeat,
                                       grace=grace or spec.execution.grace_s)
        self.env = environment()
        self.ran = 0
        self.repeats = 0
        self.exhausted = False

    # -- set-up ------------------------------------------------------------------------------
    def _isolated(self) -> bool:
        spec = self.spec
        if self.runner_factory is None:
            if spec.execution.isolation == "process":
                raise PefomedError("execution.isolation=process needs a runner that a trial process can "
                                   "import: pass runner_factory='module:Name' instead of a runner object")
            return False
        return spec.execution.isolated(cost=spec.objectives.cost, budget=spec.budget)

    def _open(self) -> Any:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        trials = []
        if self._study_exists():
            existing = optuna.load_study(study_name=self.spec.study_name, storage=self.storage)
            trials = existing.get_trials(deepcopy=False)
        # A resumed study reseeds deterministically from its size; a worker joining one that is
        # running draws its own stream (same-seeded workers would propose the same settings).
        live = any(t.state == optuna.trial.TrialState.RUNNING for t in trials)
        seed = self.spec.seed + len(trials) + (os.getpid() if live else 0)
        obj = self.spec.objectives
        return st.load_study(self.storage, self.spec.study_name, self.spec.comparability_key(),
                             make_sampler(self.spec, seed % 2**31), [obj.accuracy, obj.cost])

    def _study_exists(self) -> bool:
        return any(s.study_name == self.spec.study_name for s in self.storage.get_all_studies())

    def _seed_queue(self, study: Any) -> None:
        """Queue one defaults trial per method (or the grid), once per study."""
        if any(st.ATTR_QUEUE in t.user_attrs for t in study.get_trials(deepcopy=False)):
            return
        if self.spec.sampler == "grid":
            items = [(f"grid:{i}", p) for i, p in enumerate(grid_params(self.spec))]
            items = items[: self.spec.n_trials] if self.spec.n_trials else items
        else:
            items = [(f"defaults:{a.label}", default_params(self.spec, a.label, _catalogue_defaults(a.name)))
                     for a in self.spec.adapters]
        for key, params in items:
            study.enqueue_trial(params, user_attrs={st.ATTR_QUEUE: key})

    def _target(self) -> int | None:
        if self.spec.sampler == "grid" and self.spec.n_trials is None:
            return len(grid_params(self.spec))
        return self.spec.n_trials

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> SweepResult:
        """Run trials until ``n_trials`` are finished (by all workers) or the timeout passes."""
        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        study = self._open()
        self._seed_queue(study)
        n = self._target()
        if self.runner is None:
            self.runner = load_factory(self.runner_factory)(self.spec)
        prepare = getattr(self.runner, "prepare", None)
        if prepare is not None:
            prepare()
        if self.display is not None:
            self.display.start(self.spec, n, self._records())
        try:
            while True:
                st.repair(study, self.storage, lambda t, why: self._interrupted(t, why))
                c = st.counts(study.get_trials(deepcopy=False))
                if self.display is not None:
                    self.display.progress(c)
                if n is not None and c["finished"] >= n:
                    break
                if self.spec.timeout is not None and time.monotonic() - t0 > self.spec.timeout:
                    break
                if n is not None and c["holders"] >= n and c["waiting"] == 0:
                    time.sleep(POLL_S)  # every slot is taken by a running trial: wait for it
                    continue
                self._one(study, n)
                if self.exhausted:
                    break
        finally:
            if self.display is not None:
                self.display.stop()
        return self._finish(study, t0)

    def finish(self) -> SweepResult:
        """What the end of :meth:`run` does, without running trials: gather the study's records
        into ``trials.jsonl`` and score the frontier (after workers started elsewhere are done)."""
        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        study = self._open()
        if self.final_eval and self.runner is None:
            self.runner = load_factory(self.runner_factory)(self.spec)
        return self._finish(study, t0)

    def _finish(self, study: Any, t0: float) -> SweepResult:
        self.reconcile(study)
        if self.final_eval:
            from pefomed.sweep.final import finalize

            if self.display is not None and hasattr(self.display, "note"):
                self.display.note(f"scoring the frontier on the {self.spec.dataset.report_split} split "
                                  "(saved adapters, no retraining)")
            finalize(self.spec, self.runner, self.records_file, self.env)
        finished = st.counts(study.get_trials(deepcopy=False))["finished"]
        return SweepResult(self.spec, self.run_dir, self.spec.storage_url, self.spec.study_name, finished,
                           self.ran, self._records(), time.monotonic() - t0, self.exhausted)

    def create(self) -> None:
        """Create the study and queue its first trials, before several workers join it (so they
        do not race to create it)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._seed_queue(self._open())

    def _one(self, study: Any, n: int | None) -> None:
        from optuna.trial import TrialState

        with warnings.catch_warnings(), st.claim_lock(self.spec.storage_url):
            warnings.filterwarnings("ignore", message="Heartbeat of storage")  # ours, not Study.optimize's
            trial = study.ask()
        beat = _Heartbeat(self.storage, trial._trial_id, self.heartbeat)
        try:
            trial.set_user_attr(st.ATTR_WORKER, st.worker_tag(trial.number))
            why = st.slot_check(study.get_trials(deepcopy=False), trial.number, n)
            if why is not None:
                trial.set_user_attr(st.ATTR_SKIPPED, why)
                study.tell(trial, state=TrialState.PRUNED)
                return
            self._run_trial(study, trial)
        except KeyboardInterrupt:
            self._abandon(study, trial, "interrupted by the user (Ctrl-C)")
            raise
        finally:
            beat.stop()

    def _run_trial(self, study: Any, trial: Any) -> None:
        started = _dt.datetime.now()
        config = suggest(trial, self.spec)
        if self._skip_repeat(study, trial):
            return
        ctx = TrialContext(self.spec, trial.number, self.run_dir / "trials" / f"{trial.number:04d}",
                           getattr(self.runner, "feature_cache", None))
        if self.display is not None:
            self.display.trial_started(trial.number, config)
        if self.isolated:
            outcome = run_isolated(self.spec, config, ctx, self.runner_factory)
        else:
            outcome = run_guarded(self.runner, config, ctx)
        record = build_record(self.spec, trial.number, config, trial.params, outcome, self.env, started,
                              retry_of=study._storage.get_trial(trial._trial_id).system_attrs.get("retry_history"))
        # record first, then tell, then the file: a kill in between loses nothing (see repair/reconcile)
        trial.set_user_attr(st.ATTR_RECORD, record)
        values = objective_values(record)
        if values is not None:
            study.tell(trial, list(values))
        else:
            from optuna.trial import TrialState

            study.tell(trial, state=TrialState.FAIL)
        append_record(self.records_file, record)
        self.ran += 1
        if self.display is not None:
            self.display.trial_finished(record, self._records().trials())

    def _skip_repeat(self, study: Any, trial: Any) -> bool:
        """Give up a trial whose parameters were already run (PRUNED, not counted); after a few
        repeats in a row queue a method that still has something to search."""
        import random

        from optuna.trial import TrialState

        dup = st.duplicate_of(study.get_trials(deepcopy=False), trial.number, trial.params)
        if dup is None:
            self.repeats = 0
            return False
        trial.set_user_attr(st.ATTR_SKIPPED, f"same configuration as trial {dup}")
        study.tell(trial, state=TrialState.PRUNED)
        self.repeats += 1
        open_labels = [a.label for a in self.spec.adapters if method_space(a, self.spec.train)]
        if self.repeats >= MAX_REPEATS or not open_labels:
            self.exhausted = True  # every method's space is used up: nothing new to try
        elif self.repeats % EXPLORE_AFTER == 0:
            label = random.Random(self.spec.seed + trial.number).choice(open_labels)
            study.enqueue_trial({ADAPTER_PARAM: label}, user_attrs={st.ATTR_QUEUE: f"explore:{trial.number}"})
        return True

    def _abandon(self, study: Any, trial: Any, why: str) -> None:
        """Fail the current trial and queue its retry (Ctrl-C: the next run picks it up)."""
        import optuna

        frozen = study._storage.get_trial(trial._trial_id)
        try:
            if study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
                self._interrupted(frozen, why)
                st.requeue(study, frozen, list(frozen.system_attrs.get("retry_history", ())) + [frozen.number])
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    def _interrupted(self, trial: Any, why: str) -> None:
        append_record(self.records_file, interrupted_record(self.spec, trial, why, self.env))

    def _records(self) -> RecordSet:
        return read_records(self.records_file) if self.records_file.is_file() else RecordSet()

    def reconcile(self, study: Any) -> int:
        """Append records that are in the study but missing from ``trials.jsonl`` (a kill between
        ``tell`` and the file write, or trials of workers elsewhere); returns how many."""
        have = {(r.get("study"), r.get("trial")) for r in self._records().trials()}
        again = st.retried(trials := study.get_trials(deepcopy=False))
        added = 0
        for t in trials:
            rec = t.user_attrs.get(st.ATTR_RECORD)
            if (st.is_finished(t, again) and isinstance(rec, dict) and rec.get("trial") == t.number
                    and (rec.get("study"), t.number) not in have):
                append_record(self.records_file, rec)
                added += 1
        return added


def run_sweep(spec: SweepSpec, *, runner: Runner | None = None, runner_factory: str | None = None,
              display: Any = None, final_eval: bool = True) -> SweepResult:
    """Run (or resume, or join) the sweep described by ``spec``; see :class:`Sweep`.

    ``runner`` is an object called in this process; ``runner_factory`` (``"module:Name"``,
    called with the spec) builds one where it is needed, which lets trials run isolated in fresh
    processes (``execution.isolation``). Neither: the fine-tuning recipe.
    """
    return Sweep(spec, runner=runner, runner_factory=runner_factory, display=display,
                 final_eval=final_eval).run()
