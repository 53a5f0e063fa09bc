"""``pefomed sweep --workers N [--devices 0,1,...]``: N local worker processes on one study.

The launcher creates the study first (so workers do not race to create it), writes the
resolved spec as JSON into the run directory, starts ``python -m pefomed sweep SPEC
--no-final`` N times — worker ``i`` sees only ``devices[i % len(devices)]`` through
``CUDA_VISIBLE_DEVICES`` and gets an equal share of the CPU threads — streams their lines
prefixed with ``[w<i>]``, and waits. The study's slot accounting (:mod:`pefomed.sweep.study`)
makes exactly ``n_trials`` finish; the caller then scores the frontier once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from pefomed.errors import PefomedError
from pefomed.sweep.spec import SweepSpec, load_spec

SPEC_FILE = "workers-spec.json"
#: set in each launched worker's environment (its index)
WORKER_ENV = "PEFOMED_WORKER_INDEX"
STOP_GRACE_S = 60


def parse_devices(value: str | None) -> list[str]:
    """``"0,1,2"`` -> ``["0", "1", "2"]`` (CUDA device indices or UUIDs); empty -> []."""
    if value is None:
        return []
    devices = [d.strip() for d in value.split(",") if d.strip()]
    if not devices:
        raise PefomedError(f"--devices {value!r} names no device; give indices like --devices 0,1")
    return devices


def worker_env(index: int, n: int, devices: Sequence[str], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of worker ``index`` of ``n``: its device and its share of the CPU threads."""
    env = dict(os.environ if base is None else base)
    if devices:
        env["CUDA_VISIBLE_DEVICES"] = devices[index % len(devices)]
    threads = str(max(1, (os.cpu_count() or 1) // n))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)  # N workers x all cores each would thrash
    env[WORKER_ENV] = str(index)
    return env


def launch_workers(spec: SweepSpec, n: int, devices: Sequence[str] = (), *,
                   echo: Callable[[str], None] = print) -> list[int]:
    """Start ``n`` worker processes on ``spec``'s study, wait for all; returns their exit codes."""
    from pefomed.sweep.engine import Sweep

    if n < 1:
        raise PefomedError(f"--workers must be >= 1, but got {n}")
    Sweep(spec, final_eval=False).create()
    spec_file = spec.run_path / SPEC_FILE
    spec_file.write_text(json.dumps(spec.to_raw(), indent=1))
    if load_spec(spec_file) != replace(spec, source=str(spec_file)):  # what every worker will read
        raise PefomedError(f"{spec_file} does not read back as the resolved spec; this is a bug, please report it")
    cmd = [sys.executable, "-m", "pefomed", "sweep", str(spec_file), "--no-final", "--no-live"]
    procs: list[subprocess.Popen] = []
    pumps: list[threading.Thread] = []
    try:
        for i in range(n):
            proc = subprocess.Popen(cmd, env=worker_env(i, n, devices), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
            procs.append(proc)
            pumps.append(_pump(proc, f"[w{i}] ", echo))
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        _stop_all(procs)
        raise
    finally:
        for t in pumps:
            t.join(timeout=5)
    return codes


def _pump(proc: subprocess.Popen, prefix: str, echo: Callable[[str], None]) -> threading.Thread:
    def run() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            echo(prefix + line.rstrip("\n"))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _stop_all(procs: list[subprocess.Popen]) -> None:
    """Ctrl-C: each worker abandons and re-queues its running trial, then exits."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
