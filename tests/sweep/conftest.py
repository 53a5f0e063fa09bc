"""Sweep test helpers: a spec builder and a fast, deterministic fake trial runner."""
from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest

from pefomed.sweep.objective import TrialOutcome
from pefomed.sweep.validate import parse_spec

BASE = {
    "name": "t", "model": "tiny-llava",
    "dataset": {"name": "synth-rad", "train_limit": 16, "eval_limit": 8, "report_limit": 8},
    "adapters": ["lora", "ia3", "frozen"],
    "budget": {"max_steps": 2},
    "train": {"batch_size": 4},
    "objectives": {"accuracy": "closed-lenient", "cost": "trainable_params"},
    "n_trials": 6, "sampler": "tpe", "seed": 0,
}


def raw_spec(**changes) -> dict:
    """A copy of BASE with top-level ``changes`` applied."""
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    return raw


def make_spec(tmp_path: Path, **changes):
    raw = raw_spec(run_dir=str(tmp_path / "run"), **changes)
    return parse_spec(raw, where="test")


class FakeRunner:
    """Scores a config by a fixed formula; ``fail_labels`` fail, ``delay`` simulates work.

    accuracy = base[method] + small bonus from lr; cost = trainable_params by method.
    Counts calls per trial number so tests can prove nothing ran twice.
    """

    BASE = {"frozen": 0.30, "ia3": 0.55, "lora": 0.70, "dora": 0.72, "ln": 0.5}
    PARAMS = {"frozen": 0, "ia3": 100, "lora": 1000, "dora": 1100, "ln": 50}

    def __init__(self, fail_labels=(), delay: float = 0.0, raise_labels=()) -> None:
        self.fail_labels = set(fail_labels)
        self.raise_labels = set(raise_labels)
        self.delay = delay
        self.calls: list[int] = []
        self.finals: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, config, ctx) -> TrialOutcome:
        with self._lock:
            self.calls.append(ctx.number)
        if self.delay:
            time.sleep(self.delay)
        if config.label in self.raise_labels:
            raise RuntimeError(f"boom in {config.label}")
        if config.label in self.fail_labels:
            return TrialOutcome(status="failed", reason="memory cap exceeded: peak 900 MB > budget.max_memory_mb=1",
                                run_dir=str(ctx.out_dir))
        bonus = 0.0 if config.lr is None else min(0.05, config.lr * 10)
        acc = round(self.BASE[config.method] + bonus, 4)
        return TrialOutcome(
            metrics={"closed-lenient": {"value": acc, "ci95": [acc - 0.1, acc + 0.1], "n": 8},
                     "open-exact": {"value": acc / 2, "ci95": None, "n": 8}},
            cost={"trainable_params": self.PARAMS[config.method], "device_seconds": 0.1},
            train={"steps": 2}, run_dir=str(ctx.out_dir))

    def final(self, record) -> TrialOutcome:
        self.finals.append(record["trial"])
        acc = record["objectives"]["accuracy"]["value"] - 0.05
        return TrialOutcome(metrics={"closed-lenient": {"value": acc, "ci95": [acc - 0.1, acc + 0.1], "n": 8}},
                            dataset={"name": "synth-rad"})


@pytest.fixture
def fake_runner():
    return FakeRunner()


#: a PostgreSQL server URL whose user may create databases (`.ci/run` starts one: `.ci/postgres`)
POSTGRES_ENV = "PEFOMED_TEST_POSTGRES"


@pytest.fixture
def postgres_url():
    """A fresh, empty database on the test PostgreSQL server, dropped afterwards.

    Missing server: fails in CI (where `.ci/run` must start one), skips loudly elsewhere.
    """
    import os
    import uuid

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        msg = f"no PostgreSQL server for the multi-worker tests: set {POSTGRES_ENV} (bash .ci/postgres prints one)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    import psycopg

    name = f"pefomed_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
