"""Wall time of bare ``pefomed sweep`` (the built-in default spec) and the frontier it finds.

    python bench/sweep_default_time.py [--threads 2] [--keep DIR] [-- extra sweep args]

Runs the command exactly as a user would (a fresh run directory, no live display), then
prints the wall time, its ratio to the 300 s the default promises on 2 CPU cores, the trial
counts and the frontier (search and report-split accuracy) from the run's summary.json.
The sweep has no early stopping (see pefomed.sweep.engine), so there is no pruned variant to
compare against.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMISE_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (OMP_NUM_THREADS)")
    parser.add_argument("--keep", help="run directory to keep (default: a temporary one)")
    parser.add_argument("extra", nargs="*", help="more `pefomed sweep` arguments")
    args = parser.parse_args()

    run_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pefomed-sweep-bench-")) / "run"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-c", "from pefomed.cli import main; main()", "sweep", "--run-dir", str(run_dir),
           "--no-live", *args.extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"pefomed sweep failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    print(f"bare `pefomed sweep`: {wall:.1f} s wall on {args.threads} threads "
          f"({wall / PROMISE_S:.2f} x the {PROMISE_S:.0f} s promise)")
    print(f"trials: {summary['counts']}; hypervolume {summary['hypervolume']:.4f}; run dir {run_dir}")
    print(f"frontier ({summary['protocol']} vs {summary['cost']}):")
    for row in summary["frontier"]:
        report = (f"{row['report_accuracy']:.3f} [{row['report_ci_low']:.2f}, {row['report_ci_high']:.2f}]"
                  if row.get("report_accuracy") is not None else "-")
        print(f"  trial {row['trial']:>3} {row['label']:<8} {row['settings']:<45} search "
              f"{row['search_accuracy']:.3f}  cost {row['cost']:.4g}  {row.get('report_split') or 'report'} {report}")


if __name__ == "__main__":
    main()
