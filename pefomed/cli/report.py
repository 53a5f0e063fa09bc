"""``pefomed report RUN_DIR``: regenerate a sweep's reports from its records alone."""
from __future__ import annotations

import click

from pefomed.cli.app import main


@main.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--study", help="which study, when the run dir holds several")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="write the files here (default RUN_DIR)")
@click.option("--no-plots", is_flag=True, help="skip frontier.png and frontier.html")
def report_cmd(run_dir, study, out_dir, no_plots) -> None:
    """Rebuild frontier.md, trials.csv, frontier.csv, frontier.png, frontier.html and summary.json
    from RUN_DIR/trials.jsonl (no model, no retraining, no study database)."""
    from rich.console import Console

    from pefomed.sweep.records import read_records
    from pefomed.sweep.report import headline, rich_tables, summarize, write_reports

    paths = write_reports(run_dir, study=study, out_dir=out_dir, plots=not no_plots)
    console = Console()
    summary = summarize(read_records(run_dir), study)
    for table in rich_tables(summary):
        console.print(table)
    console.print(headline(summary))
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
