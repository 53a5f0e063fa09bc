"""Engine mechanics with a fake runner: every method tried, exactly n_trials, failures recorded,
resume without re-running, several workers, crash repair, final report-split records."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections import Counter

import optuna
import pytest

from pefomed.errors import PefomedError
from pefomed.sweep import study as st
from pefomed.sweep.engine import Sweep, run_sweep
from pefomed.sweep.records import read_records
from tests.sweep.conftest import FakeRunner, make_spec

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


def complete_trials(result):
    return [r for r in result.records.trials() if r["status"] == "complete"]


def finished_in_study(spec):
    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage_url)
    return study, st.counts(study.get_trials())["finished"]


def test_every_method_first_then_exactly_n(tmp_path):
    spec = make_spec(tmp_path, n_trials=7)
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner)
    trials = result.records.trials()
    assert len(trials) == 7 and len(runner.calls) == len(set(runner.calls)) == 7
    assert [r["label"] for r in trials[:3]] == ["lora", "ia3", "frozen"]  # catalogue defaults first
    assert trials[0]["config"]["settings"]["r"] == 8 and trials[0]["config"]["lr"] == pytest.approx(2e-4)
    assert trials[2]["config"]["lr"] is None  # frozen trains nothing
    _, finished = finished_in_study(spec)
    assert finished == 7 and result.finished == 7


def test_record_fields(tmp_path):
    result = run_sweep(make_spec(tmp_path, n_trials=3), runner=FakeRunner())
    r = result.records.trials()[0]
    for key in ("config", "params", "status", "reason", "cost", "metrics", "seed", "dataset", "versions",
                "device", "trial", "run_dir", "objectives", "budget", "host", "started", "duration_s"):
        assert key in r, key
    assert r["params"]["adapter"] == "lora" and "lora.learning_rate" in r["params"]
    assert r["metrics"]["closed-lenient"]["ci95"] == [pytest.approx(0.602), pytest.approx(0.802)]
    assert r["versions"]["optuna"] == optuna.__version__
    study, _ = finished_in_study(result.spec)
    assert study.trials[0].user_attrs[st.ATTR_RECORD]["trial"] == 0  # also an Optuna user attribute


def test_failing_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    runner = FakeRunner(fail_labels={"ia3"}, raise_labels={"frozen"})
    result = run_sweep(make_spec(tmp_path, n_trials=6), runner=runner)
    trials = result.records.trials()
    assert len(trials) == 6
    by_label = {r["label"]: r for r in trials[:3]}
    assert by_label["ia3"]["status"] == "failed" and "memory cap exceeded" in by_label["ia3"]["reason"]
    assert by_label["frozen"]["status"] == "failed" and by_label["frozen"]["reason"] == "RuntimeError: boom in frozen"
    assert "boom in frozen" in (result.run_dir / "trials" / "0002" / "error.txt").read_text()
    study, finished = finished_in_study(result.spec)
    assert finished == 6
    assert study.trials[1].state == optuna.trial.TrialState.FAIL
    assert any(r["status"] == "complete" for r in trials)


def test_non_finite_accuracy_fails_the_trial(tmp_path):
    class NanRunner(FakeRunner):
        def __call__(self, config, ctx):
            out = super().__call__(config, ctx)
            out.metrics["closed-lenient"]["value"] = float("nan")
            return out

    result = run_sweep(make_spec(tmp_path, n_trials=3), runner=NanRunner())
    assert {r["status"] for r in result.records.trials()} == {"failed"}
    assert "not a finite number" in result.records.trials()[0]["reason"]


def test_resume_never_reruns_finished_trials(tmp_path):
    first = FakeRunner()
    result = run_sweep(make_spec(tmp_path, n_trials=4), runner=first)
    before = {r["trial"]: r for r in result.records.trials()}
    again = FakeRunner()
    run_sweep(make_spec(tmp_path, n_trials=4), runner=again)
    assert again.calls == []  # nothing left to do
    more = FakeRunner()
    result = run_sweep(make_spec(tmp_path, n_trials=6), runner=more)
    assert len(more.calls) == 2 and min(more.calls) > 3
    after = {r["trial"]: r for r in result.records.trials()}
    assert all(after[t] == before[t] for t in before)
    assert len(after) == 6


def test_resume_refuses_an_incompatible_spec(tmp_path):
    run_sweep(make_spec(tmp_path, n_trials=3), runner=FakeRunner())
    with pytest.raises(PefomedError, match="different spec.*budget"):
        run_sweep(make_spec(tmp_path, n_trials=3, budget={"max_steps": 9}), runner=FakeRunner())


def test_two_workers_in_threads_finish_exactly_n(tmp_path):
    spec = make_spec(tmp_path, n_trials=9)
    runners = [FakeRunner(delay=0.05), FakeRunner(delay=0.05)]
    threads = [threading.Thread(target=run_sweep, args=(spec,), kwargs={"runner": r, "final_eval": False})
               for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls = runners[0].calls + runners[1].calls
    assert len(calls) == len(set(calls)) == 9  # no trial ran twice, none beyond n
    assert runners[0].calls and runners[1].calls  # both worked
    records = read_records(spec.run_path).trials()
    assert len(records) == 9
    assert Counter(r["label"] for r in records[:3]) == Counter({"lora": 1, "ia3": 1, "frozen": 1})
    _, finished = finished_in_study(spec)
    assert finished == 9


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_trial_of_a_dead_worker_is_failed_and_retried(tmp_path):
    spec = make_spec(tmp_path, n_trials=4)
    sweep = Sweep(spec, runner=FakeRunner(), final_eval=False)
    study = sweep._open()
    sweep._seed_queue(study)
    trial = study.ask()  # a worker took trial 0 (lora defaults) and died
    trial.set_user_attr(st.ATTR_WORKER, {"host": socket.gethostname(), "pid": _dead_pid(), "trial": trial.number})
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner)
    trials = result.records.trials()
    interrupted = [r for r in trials if r["status"] == "interrupted"]
    assert [r["trial"] for r in interrupted] == [0] and "is gone" in interrupted[0]["reason"]
    done = complete_trials(result)
    assert len(done) == 4
    retry = next(r for r in done if r["retry_of"] == [0])
    assert retry["params"] == interrupted[0]["params"]  # same configuration, new number
    assert 0 not in runner.calls


def test_dead_worker_with_a_stored_record_is_completed_not_rerun(tmp_path):
    spec = make_spec(tmp_path, n_trials=3)
    sweep = Sweep(spec, runner=FakeRunner(), final_eval=False)
    study = sweep._open()
    sweep._seed_queue(study)
    trial = study.ask()
    trial.set_user_attr(st.ATTR_WORKER, {"host": socket.gethostname(), "pid": _dead_pid(), "trial": trial.number})
    record = {"kind": "trial", "study": spec.study_name, "trial": trial.number, "status": "complete",
              "label": "lora", "objectives": {"accuracy": {"protocol": "closed-lenient", "value": 0.9},
                                              "cost": {"name": "trainable_params", "value": 5}}}
    trial.set_user_attr(st.ATTR_RECORD, record)  # killed after storing its record, before tell
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner)
    assert 0 not in runner.calls and sorted(runner.calls) == [1, 2]
    study, finished = finished_in_study(spec)
    assert finished == 3 and study.trials[0].values == [0.9, 5.0]
    assert result.records.trials()[0]["objectives"]["accuracy"]["value"] == 0.9  # reconciled into the file


def test_slot_check_counts_lower_numbered_holders(tmp_path):
    spec = make_spec(tmp_path, n_trials=3)
    run_sweep(spec, runner=FakeRunner(), final_eval=False)
    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage_url)
    extra = study.ask()
    reason = st.slot_check(study.get_trials(), extra.number, 3)
    assert reason and "n_trials=3 already taken" in reason
    assert st.slot_check(study.get_trials(), extra.number, 4) is None


def test_final_records_for_the_frontier_once(tmp_path):
    spec = make_spec(tmp_path, n_trials=5)
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner)
    finals = result.records.finals()
    from pefomed.sweep.pareto import frontier_records

    front = [r["trial"] for r in frontier_records(result.records.trials())]
    assert sorted(r["trial"] for r in finals) == sorted(front) == sorted(runner.finals)
    assert all(r["split"] == "validation" for r in result.records.trials())
    assert {r["split"] for r in finals} == {"test"}
    second = FakeRunner()
    run_sweep(spec, runner=second)
    assert second.finals == []


def test_grid_runs_every_combination(tmp_path):
    spec = make_spec(tmp_path, sampler="grid", n_trials=None, train={"lr": 1e-3, "batch_size": 4},
                     adapters=[{"name": "lora", "search_space": {"lora_dropout": None, "lora_alpha": None,
                                                                 "r": [2, 4]}},
                               {"name": "ia3"}, "frozen"])
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner)
    combos = sorted((r["label"], r["config"]["settings"].get("r")) for r in result.records.trials())
    assert combos == [("frozen", None), ("ia3", None), ("lora", 2), ("lora", 4)]


def test_stale_heartbeat_of_a_worker_elsewhere_is_repaired(tmp_path):
    import time

    spec = make_spec(tmp_path, n_trials=3)
    sweep = Sweep(spec, runner=FakeRunner(), final_eval=False, heartbeat=1, grace=1)
    study = sweep._open()
    sweep._seed_queue(study)
    trial = study.ask()
    trial.set_user_attr(st.ATTR_WORKER, {"host": "another-machine", "pid": 1, "trial": trial.number})
    sweep.storage.record_heartbeat(trial._trial_id)
    time.sleep(2.5)  # the heartbeat goes stale (grace 1 s)
    runner = FakeRunner()
    result = Sweep(spec, runner=runner, final_eval=False, heartbeat=1, grace=1).run()
    interrupted = [r for r in result.records.trials() if r["status"] == "interrupted"]
    assert [r["trial"] for r in interrupted] == [0] and "no heartbeat" in interrupted[0]["reason"]
    assert result.finished == 3 and 0 not in runner.calls


def test_ctrl_c_fails_the_trial_and_queues_its_retry(tmp_path):
    class Interrupting(FakeRunner):
        def __call__(self, config, ctx):
            if ctx.number == 1:
                raise KeyboardInterrupt
            return super().__call__(config, ctx)

    spec = make_spec(tmp_path, n_trials=3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, runner=Interrupting())
    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage_url)
    assert study.trials[1].state == optuna.trial.TrialState.FAIL
    waiting = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert any(t.system_attrs.get("retry_history") == [1] for t in waiting)
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner)
    assert result.finished == 3 and 1 not in runner.calls
    assert [r["status"] for r in result.records.trials() if r["trial"] == 1] == ["interrupted"]


def test_timeout_stops_starting_trials(tmp_path):
    spec = make_spec(tmp_path, n_trials=None, timeout=0.5)
    runner = FakeRunner(delay=0.3)
    result = run_sweep(spec, runner=runner, final_eval=False)
    assert 1 <= len(runner.calls) <= 3 and result.finished == len(runner.calls)


def test_repeated_configurations_are_skipped_not_rerun(tmp_path):
    # frozen has nothing to search and ia3 only a 2-value learning rate: 1 + 2 distinct configs,
    # then lora's open space keeps the sweep going to n_trials without any repeat
    spec = make_spec(tmp_path, n_trials=8, adapters=["frozen", {"name": "ia3", "search_space": {
        "learning_rate": [1e-3, 2e-3]}}, {"name": "lora", "search_space": {"lora_dropout": None}}])
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner, final_eval=False)
    trials = result.records.trials()
    assert len(trials) == 8 and result.finished == 8
    keys = [(r["label"], json.dumps(r["params"], sort_keys=True)) for r in trials]
    assert len(keys) == len(set(keys))
    assert sum(r["label"] == "frozen" for r in trials) == 1


def test_exhausted_space_stops_early(tmp_path):
    spec = make_spec(tmp_path, n_trials=5, adapters=["frozen", {"name": "ia3", "settings": {"learning_rate": 1e-3}}])
    runner = FakeRunner()
    result = run_sweep(spec, runner=runner, final_eval=False)
    assert sorted(r["label"] for r in result.records.trials()) == ["frozen", "ia3"]
    assert len(runner.calls) == 2


def test_study_is_a_plain_optuna_study_with_named_objectives(tmp_path):
    spec = make_spec(tmp_path, n_trials=3)
    run_sweep(spec, runner=FakeRunner(), final_eval=False)
    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage_url)
    assert study.metric_names == ["closed-lenient", "trainable_params"]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert len(study.best_trials) >= 1


def _race_for_queued_trials(url: str, workers: int, rounds: int) -> list[int]:
    """``workers`` threads, each with its own storage, take a queued trial at the same moment
    under ``claim_lock``, ``rounds`` times; the trial numbers they were handed."""
    storages = [st.open_storage(url) for _ in range(workers)]
    studies = [optuna.load_study(study_name="race", storage=s) for s in storages]
    taken: list[int] = []
    gate = threading.Barrier(workers)

    def take(study) -> None:
        gate.wait()
        with st.claim_lock(url):
            taken.append(study.ask().number)

    for _ in range(rounds):
        for _ in range(workers):
            studies[0].enqueue_trial({"x": 1.0}, skip_if_exists=False)
        threads = [threading.Thread(target=take, args=(s,)) for s in studies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return taken


def test_workers_on_one_sqlite_study_never_take_the_same_queued_trial(tmp_path):
    # Optuna's WAITING -> RUNNING claim relies on SELECT ... FOR UPDATE, a no-op on SQLite; under
    # load two workers took trial 0 together and one crashed (UpdateFinishedTrialError)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="race", storage=st.open_storage(url))
    taken = _race_for_queued_trials(url, workers=3, rounds=15)
    assert len(taken) == 45 and len(set(taken)) == 45, Counter(taken).most_common(3)
    assert (tmp_path / "study.db.claim-lock").is_file()
