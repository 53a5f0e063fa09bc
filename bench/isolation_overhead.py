"""What per-trial process isolation costs on the default sweep: wall time with
``execution.isolation: none`` vs ``process``, run side by side (interleaved, fresh run folders).

    python bench/isolation_overhead.py                 # the built-in default sweep, 1 repetition
    python bench/isolation_overhead.py --reps 2 --n-trials 6

Each run is a separate ``pefomed sweep`` process, so both pay the same start-up; the difference
is the per-trial process start, imports, data load and model build, and the feature cache that
an isolated trial cannot share with the trials before it.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(mode: str, root: Path, rep: int, n_trials: int | None) -> float:
    run = root / f"{mode}-{rep}"
    cmd = [sys.executable, "-m", "pefomed", "sweep", "--no-live", "--no-final", "--isolation", mode,
           "--run-dir", str(run)]
    if n_trials:
        cmd += ["--n-trials", str(n_trials)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--n-trials", type=int, default=None, help="default: the spec's (14)")
    args = ap.parse_args()
    times: dict[str, list[float]] = {"none": [], "process": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for mode in ("none", "process") if rep % 2 == 0 else ("process", "none"):
                times[mode].append(one(mode, Path(tmp), rep, args.n_trials))
                print(f"rep {rep} {mode:>7}: {times[mode][-1]:.1f} s", flush=True)
    base, iso = min(times["none"]), min(times["process"])
    trials = args.n_trials or 14
    print(f"default sweep, {trials} trials: in-process {base:.1f} s, isolated {iso:.1f} s, "
          f"ratio {iso / base:.2f}x, {(iso - base) / trials:.1f} s per trial")


if __name__ == "__main__":
    main()
