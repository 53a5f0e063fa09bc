"""The Optuna side of a sweep: storage, the study, slot accounting across workers, crash repair.

**Exactly ``n_trials`` finished trials, with any number of workers.** Optuna numbers trials
atomically (the study row is locked while a number is assigned), so trial numbers totally
order the trials. A trial *holds a slot* while it is WAITING or RUNNING, or once it is
finished (COMPLETE, or FAIL with its record). After ``ask()``, a worker counts the slot
holders numbered below its trial; if there are already ``n_trials`` it gives the trial up
(PRUNED, user attribute ``pefomed.skipped``) without running it. A trial stops holding a slot
only when it crashed (FAIL without a record, or retried), and new trials get higher numbers,
so the count below a trial can only shrink: no trial that passed the check can push the
study past ``n_trials``, and workers keep going (or wait for running trials) until
``n_trials`` are finished.

**Crashes.** A running trial whose worker died is found by its heartbeat going stale
(RDB heartbeat, any host) or, on the same host, at once by its worker's process id being gone.
If the dead worker had already stored its record (only the final ``tell`` was lost) the trial
is completed from that record; otherwise it is marked FAIL, recorded as ``interrupted`` and a
WAITING copy with the same parameters is queued (Optuna's ``failed_trial``/``retry_history``
system attributes, as ``RetryHeartbeatStaleTrialCallback`` writes them), up to
:data:`MAX_RETRIES` times.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.sweep.records import objective_values

ATTR_RECORD = "pefomed.record"
ATTR_WORKER = "pefomed.worker"
ATTR_QUEUE = "pefomed.queue"
ATTR_SKIPPED = "pefomed.skipped"
ATTR_SPEC = "pefomed.spec"
HEARTBEAT_S = 5
GRACE_S = 20
#: a RUNNING trial that never got a worker attribute (its worker died right after ``ask``)
ORPHAN_S = 120
MAX_RETRIES = 2


def open_storage(url: str, *, heartbeat: int = HEARTBEAT_S, grace: int = GRACE_S) -> Any:
    """An Optuna RDB storage with heartbeats; SQLite waits for locks instead of failing."""
    import optuna
    from optuna.exceptions import ExperimentalWarning

    url = normalize_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        kwargs = {"connect_args": {"timeout": 120}}
        db = sqlite_file(url)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(3):  # concurrent first starts race on table creation
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat,
                                                  grace_period=grace)
        except ImportError as exc:
            raise PefomedError(f"storage {redact(url)} needs a database driver that is not installed "
                               f"({exc}); install it or use sqlite:///path.db") from None
        except Exception as exc:  # sqlalchemy OperationalError on a lock or an existing table
            last = exc
            time.sleep(0.5 + attempt)
    first = str(last).strip().splitlines()[0] if last is not None else ""
    raise PefomedError(f"cannot open storage {redact(url)} ({first}); check the URL and that the database is "
                       "reachable")


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for other databases and in-memory SQLite."""
    db = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
    return Path(db).expanduser() if db and db != ":memory:" else None


@contextlib.contextmanager
def claim_lock(url: str):
    """Hold while taking a trial (``study.ask``) from a SQLite study: only one worker at a time.

    Optuna claims a queued trial by reading it WAITING and writing it RUNNING in one transaction
    with ``SELECT ... FOR UPDATE``, which SQLite ignores: two workers could both read WAITING and
    both run the same trial. PostgreSQL and MySQL lock the row, so they need nothing here. The lock
    is a file beside the database (``flock``; workers of one SQLite study share a filesystem).
    """
    db = sqlite_file(normalize_url(url))
    try:
        import fcntl
    except ImportError:  # Windows: no flock; one worker per SQLite study there
        fcntl = None
    if db is None or fcntl is None:
        yield
        return
    with open(db.with_name(db.name + ".claim-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: URL scheme -> (the driver module SQLAlchemy 2 uses for it, how to install it)
DRIVERS = {
    "postgresql": ("psycopg", "pip install 'pefomed[postgres]' (psycopg 3)"),
    "postgresql+psycopg": ("psycopg", "pip install 'pefomed[postgres]' (psycopg 3)"),
    "postgresql+psycopg2": ("psycopg2", "pip install psycopg2-binary, or drop +psycopg2 and "
                                        "pip install 'pefomed[postgres]'"),
    "mysql": ("MySQLdb", "pip install mysqlclient"),
    "mysql+pymysql": ("pymysql", "pip install pymysql"),
}


def normalize_url(url: str) -> str:
    """``postgres://`` (as cloud providers print it) -> ``postgresql://``; check the driver is there.

    SQLAlchemy 2 reads ``postgresql://`` as psycopg 3; with only psycopg2 installed its error
    names no driver, so the check comes first and names the extra to install.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    scheme = url.split("://", 1)[0]
    module, install = DRIVERS.get(scheme, (None, None))
    if module is not None and not _importable(module):
        raise PefomedError(f"storage {redact(url)} needs the database driver {module!r}, which is not "
                           f"installed; {install}")
    return url


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"


def load_study(storage: Any, name: str, spec_key: dict[str, Any], sampler: Any,
               metric_names: list[str] | None = None) -> Any:
    """Create or load the study, refusing to mix trials of an incompatible spec into it.

    ``metric_names`` (accuracy protocol, cost) label the objectives in optuna-dashboard.
    """
    import optuna
    from optuna.exceptions import ExperimentalWarning

    study = optuna.create_study(storage=storage, study_name=name, directions=["maximize", "minimize"],
                                sampler=sampler, load_if_exists=True)
    stored = study.user_attrs.get(ATTR_SPEC)
    if stored is None:
        study.set_user_attr(ATTR_SPEC, spec_key)
        if metric_names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                study.set_metric_names(metric_names)
    elif _canon(stored) != _canon(spec_key):
        diff = [k for k in spec_key if _canon(stored.get(k)) != _canon(spec_key[k])]
        raise PefomedError(
            f"study {name!r} was created with a different spec (differs in {', '.join(diff)}); its trials "
            "would not compare: rerun with the same spec or choose a new --study name"
        )
    return study


def _canon(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=str)


#: containers that share a hostname but not a process table must each set a distinct value
HOST_ENV = "PEFOMED_WORKER_HOST"


def host_id() -> str:
    """This worker's host as crash detection sees it: ``$PEFOMED_WORKER_HOST`` or the hostname.

    Workers on the same host detect a dead worker at once by its process id; workers on other
    hosts only by its heartbeat going stale.
    """
    return os.environ.get(HOST_ENV) or socket.gethostname()


def worker_tag(number: int) -> dict[str, Any]:
    """What identifies the process running trial ``number`` (for same-host crash detection)."""
    return {"host": host_id(), "pid": os.getpid(), "trial": number}


def retried(trials: Sequence[Any]) -> set[int]:
    """Numbers of trials that were retried (a later trial lists them in ``retry_history``)."""
    out: set[int] = set()
    for t in trials:
        out.update(t.system_attrs.get("retry_history", ()))
    return out


def is_finished(t: Any, retried_numbers: set[int]) -> bool:
    from optuna.trial import TrialState

    if t.state == TrialState.COMPLETE:
        return True
    return t.state == TrialState.FAIL and ATTR_RECORD in t.user_attrs and t.number not in retried_numbers


def holds_slot(t: Any, retried_numbers: set[int]) -> bool:
    from optuna.trial import TrialState

    return t.state in (TrialState.RUNNING, TrialState.WAITING) or is_finished(t, retried_numbers)


def slot_check(trials: Sequence[Any], number: int, n_trials: int | None) -> str | None:
    """Why trial ``number`` must not run (all slots below it taken, or a duplicate queue item)."""
    again = retried(trials)
    mine = next(t for t in trials if t.number == number)
    below = [t for t in trials if t.number < number and holds_slot(t, again)]
    if n_trials is not None and len(below) >= n_trials:
        return f"n_trials={n_trials} already taken by lower-numbered trials"
    key = mine.user_attrs.get(ATTR_QUEUE)
    if key is not None and any(t.user_attrs.get(ATTR_QUEUE) == key for t in below):
        return f"queue item {key!r} is already taken by a lower-numbered trial"
    return None


def duplicate_of(trials: Sequence[Any], number: int, params: dict[str, Any]) -> int | None:
    """The lowest-numbered other trial that ran (or runs) exactly ``params``, else None.

    Deterministic training makes a repeat a waste: ``frozen`` has nothing to search, and a
    sampler can propose the same categorical combination twice.
    """
    from optuna.trial import TrialState

    again = retried(trials)
    for t in sorted(trials, key=lambda t: t.number):
        if (t.number != number and t.state != TrialState.WAITING and holds_slot(t, again)
                and t.params == params):
            return t.number
    return None


def counts(trials: Sequence[Any]) -> dict[str, int]:
    """``finished``, ``holders``, ``waiting`` and ``running`` trial counts."""
    from optuna.trial import TrialState

    again = retried(trials)
    return {
        "finished": sum(is_finished(t, again) for t in trials),
        "holders": sum(holds_slot(t, again) for t in trials),
        "waiting": sum(t.state == TrialState.WAITING for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
    }


def _alive(worker: dict[str, Any], started: _dt.datetime | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(int(worker["pid"]))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # a recycled pid belongs to a process started after the trial
        return started is None or proc.create_time() <= started.timestamp() + 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, ValueError):
        return False


def dead_trials(study: Any, storage: Any) -> list[tuple[Any, str]]:
    """RUNNING trials whose worker is gone, with why."""
    from optuna.trial import TrialState

    host = host_id()
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    stale: set[int] = set()
    if running and getattr(storage, "heartbeat_interval", None):
        stale = set(storage._get_stale_trial_ids(study._study_id))
    now = _dt.datetime.now()
    out = []
    for t in running:
        w = t.user_attrs.get(ATTR_WORKER)
        if not isinstance(w, dict) or w.get("trial") != t.number:
            w = None
        if t._trial_id in stale:
            out.append((t, f"no heartbeat for over {storage.grace_period} s"))
        elif w is not None and w.get("host") == host and not _alive(w, t.datetime_start):
            out.append((t, f"worker process {w.get('pid')} on {host} is gone"))
        elif w is None and t.datetime_start and (now - t.datetime_start).total_seconds() > ORPHAN_S:
            out.append((t, f"never claimed by a worker within {ORPHAN_S} s"))
    return out


def repair(study: Any, storage: Any, on_interrupted: Callable[[Any, str], None]) -> int:
    """Finish or fail-and-requeue every dead RUNNING trial; returns how many were repaired."""
    import optuna
    from optuna.trial import TrialState

    repaired = 0
    for t, why in dead_trials(study, storage):
        rec = t.user_attrs.get(ATTR_RECORD)
        try:
            if isinstance(rec, dict) and rec.get("trial") == t.number:
                values = objective_values(rec)
                study.tell(t.number, list(values) if values else None,
                           state=TrialState.COMPLETE if values else TrialState.FAIL, skip_if_finished=True)
                repaired += 1
                continue
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker repaired it first
        repaired += 1
        on_interrupted(t, why)
        history = list(t.system_attrs.get("retry_history", ())) + [t.number]
        if len(history) <= MAX_RETRIES:
            requeue(study, t, history)
    return repaired


def requeue(study: Any, t: Any, history: list[int]) -> None:
    """Queue a WAITING copy of ``t`` (same parameters) that records what it retries."""
    import optuna

    keep = {k: v for k, v in t.user_attrs.items() if not k.startswith("pefomed.")}
    system = {k: v for k, v in t.system_attrs.items() if k not in ("failed_trial", "retry_history")}
    system.update(failed_trial=history[0], retry_history=history)
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING, params=t.params, distributions=t.distributions,
        user_attrs=keep, system_attrs=system,
    ))
