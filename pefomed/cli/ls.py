"""``pefomed ls models|adapters|datasets``."""
from __future__ import annotations

import json

import click

from pefomed.cli.app import main


@main.group()
def ls() -> None:
    """List what pefomed knows: models, adapters, datasets."""


@ls.command("models")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def ls_models(as_json: bool) -> None:
    """Registered models and their families."""
    from rich.console import Console
    from rich.table import Table

    from pefomed.models.registry import FAMILIES, MODELS, _ensure_builtin_models

    _ensure_builtin_models()
    rows = [{"name": e.name, "family": e.family, "tiny": e.tiny, "description": e.description}
            for _, e in MODELS.items()]
    if as_json:
        fams = [{"family": n, "model_types": list(f.model_types), "task": f.task,
                 "tiny": [r["name"] for r in rows if r["family"] == n and r["tiny"]]}
                for n, f in FAMILIES.items()]
        click.echo(json.dumps({"models": rows, "families": fams}, indent=2))
        return
    table = Table(title="models")
    for col in ("name", "family", "tiny", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["family"], "yes" if r["tiny"] else "", r["description"])
    Console().print(table)
