"""``pefomed sweep [SPEC]``: which adapter and settings give the best accuracy for what they cost."""
from __future__ import annotations

import os
import time

import click

from pefomed.cli.app import main, parse_set_options
from pefomed.errors import PefomedError
from pefomed.sweep.launch import WORKER_ENV


@main.command("sweep")
@click.argument("spec_file", required=False, metavar="[SPEC]")
@click.option("--set", "set_pairs", multiple=True, metavar="KEY=VALUE",
              help="override any spec field by its dotted path, e.g. --set budget.max_steps=50")
@click.option("--n-trials", type=int, help="finished trials wanted (shared by all workers of the study)")
@click.option("--timeout", type=float, help="stop starting new trials after this many seconds")
@click.option("--storage", help="Optuna RDB URL shared by workers (default: sqlite file in the run dir)")
@click.option("--study", help="study name (default: the spec's name)")
@click.option("--run-dir", help="where records, trial folders and reports go")
@click.option("--sampler", help="tpe, nsga2, random or grid")
@click.option("--seed", type=int, help="seed of sampler, data subsets and training")
@click.option("--workers", type=click.IntRange(min=1), help="start this many local worker processes on "
              "the study and wait for them (default 1, or one per --devices entry)")
@click.option("--devices", help="GPUs for the workers, e.g. 0,1,2,3: worker i sees only device i mod N")
@click.option("--isolation", type=click.Choice(["auto", "process", "none"]),
              help="run each trial in a fresh process (execution.isolation; auto: on CUDA, or when "
                   "memory is an objective or a budget limit)")
@click.option("--no-final", is_flag=True, help="skip scoring the frontier on the report split")
@click.option("--no-live", is_flag=True, help="no live display (logs one line per trial)")
@click.option("--print-spec", is_flag=True, help="print the resolved spec as YAML and exit")
def sweep_cmd(spec_file, set_pairs, n_trials, timeout, storage, study, run_dir, sampler, seed, workers,
              devices, isolation, no_final, no_live, print_spec) -> None:
    """Search adapters x settings on MODEL/DATA within a per-trial budget; report the Pareto frontier.

    Bare `pefomed sweep` runs the built-in demo (medvlm-tiny on synth-rad, a few minutes on a
    laptop CPU). Re-running the same command resumes it; the same command with the same
    --storage URL and --study name on several machines runs one shared study. Inspect the
    study with `optuna-dashboard <storage URL>`; regenerate reports with `pefomed report RUN_DIR`.
    """
    from pefomed.sweep.spec import load_spec

    overrides = parse_set_options(set_pairs)
    flags = {"n_trials": n_trials, "timeout": timeout, "storage": storage, "study": study,
             "run_dir": run_dir, "sampler": sampler, "seed": seed, "execution.isolation": isolation}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    spec = load_spec(spec_file, overrides)
    if print_spec:
        import yaml

        click.echo(yaml.safe_dump(spec.to_dict(), sort_keys=False))
        return
    from pefomed.sweep.launch import parse_devices

    gpus = parse_devices(devices)
    _run(spec, final=not no_final, live=not no_live, workers=workers or max(1, len(gpus)), devices=gpus)


def _run(spec, *, final: bool, live: bool, workers: int = 1, devices: list[str] | None = None) -> None:
    from rich.console import Console

    from pefomed.sweep.engine import Sweep, run_sweep
    from pefomed.sweep.report import rich_tables, summarize, write_reports
    from pefomed.sweep.study import redact

    console = Console()
    console.print(f"[bold]sweep {spec.study_name}[/]: {spec.model} on {spec.dataset.name}, "
                  f"{len(spec.adapters)} methods, {spec.n_trials or '-'} trials, budget "
                  f"{', '.join(f'{k}={v}' for k, v in spec.budget.items() if v is not None)}")
    console.print(f"storage {redact(spec.storage_url)} | run dir {spec.run_path}"
                  + (f" | {workers} workers" + (f" on devices {','.join(devices)}" if devices else "")
                     if workers > 1 or devices else ""))
    display = _display(console, live and workers == 1)
    t0 = time.monotonic()
    many = workers > 1 or bool(devices)
    if many:
        from pefomed.sweep.launch import launch_workers

        codes = launch_workers(spec, workers, devices or (), echo=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True))
        if any(codes):
            bad = ", ".join(f"w{i} exited {c}" for i, c in enumerate(codes) if c)
            if all(codes):
                raise PefomedError(f"every worker failed ({bad}); their errors are above")
            console.print(f"[yellow]{bad}; scoring what the others finished[/]")
        result = Sweep(spec, display=display, final_eval=final).finish()
    else:
        result = run_sweep(spec, display=display, final_eval=final)
    if os.environ.get(WORKER_ENV) is not None and not many:  # one of a launcher's workers
        console.print(f"worker done: {result.ran} trial(s) run; the launcher writes the reports", highlight=False)
        return
    paths = write_reports(result.run_dir, study=spec.study_name)
    summary = summarize(result.records, spec.study_name)
    for table in rich_tables(summary):
        console.print(table)
    from pefomed.sweep.report import headline

    console.print(headline(summary))
    if result.exhausted:
        console.print(f"stopped after {result.finished} finished trials: every configuration of the "
                      "search space was tried (widen search_space to go on)")
    console.print(f"{result.finished if many else result.ran} trial(s) run by "
                  f"{f'{workers} workers' if many else 'this worker'} in {time.monotonic() - t0:.0f} s; "
                  f"reports: {', '.join(str(p) for p in paths.values())}")
    console.print(f"dashboard: optuna-dashboard {redact(spec.storage_url)}")


def _display(console, live: bool):
    from pefomed.sweep.live import LiveDisplay

    if live and console.is_terminal:
        return LiveDisplay(console)
    return _LineLog(console)


class _LineLog:
    """One line per finished trial (when no terminal or --no-live)."""

    def __init__(self, console) -> None:
        self.console = console

    def start(self, spec, n, records) -> None:
        pass

    def progress(self, counts) -> None:
        pass

    def trial_started(self, number, config) -> None:
        pass

    def trial_finished(self, record, trials) -> None:
        from pefomed.sweep.live import trial_line

        self.console.print(trial_line(record), highlight=False)

    def note(self, message) -> None:
        self.console.print(message, highlight=False)

    def stop(self) -> None:
        pass
