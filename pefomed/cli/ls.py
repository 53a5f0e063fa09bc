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
    rows = [{"name": e.name, "family": e.family, "tiny": e.tiny, "description": e.description,
             "config_only": e.config_only, "hub_id": e.hub_id}
            for _, e in MODELS.items()]
    if as_json:
        fams = [{"family": n, "model_types": list(f.model_types), "task": f.task,
                 "tiny": [r["name"] for r in rows if r["family"] == n and r["tiny"]]}
                for n, f in FAMILIES.items()]
        click.echo(json.dumps({"models": rows, "families": fams}, indent=2))
        return
    table = Table(title="models")
    for col in ("name", "family", "kind", "description"):
        table.add_column(col)
    for r in rows:
        kind = "tiny" if r["tiny"] else ("config only" if r["config_only"] else "")
        table.add_row(r["name"], r["family"], kind, r["description"])
    console = Console()
    console.print(table)
    if any(r["config_only"] for r in rows):
        console.print("config only: real architectures without weights, for `pefomed plan` and `pefomed inspect`; "
                      "to train one, pass its checkpoint instead: the hub id shown (online) or a local folder.",
                      highlight=False)


@ls.command("adapters")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--model", "model", default=None, help="show which method x part works on this model")
def ls_adapters(as_json: bool, model: str | None) -> None:
    """Adapter methods; with --model, the support matrix for that model."""
    from rich.console import Console
    from rich.table import Table

    from pefomed.adapters import get_adapter, list_adapters

    if model is not None:
        _support_matrix(model, as_json)
        return
    rows = [{"name": n, "description": a.description, "peft_backed": a.peft_backed, "mergeable": a.mergeable,
             "parts": list(a.parts), "defaults": a.defaults, "presets": a.presets,
             "train_defaults": a.train_defaults, "search_space": a.search_space}
            for n in list_adapters() for a in [get_adapter(n)]]
    if as_json:
        click.echo(json.dumps({"adapters": rows}, indent=2))
        return
    table = Table(title="adapters")
    for col in ("name", "peft", "merge", "parts", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], "yes" if r["peft_backed"] else "", "yes" if r["mergeable"] else "",
                      ",".join(r["parts"]), r["description"])
    Console().print(table)


def _support_matrix(model: str, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from pefomed.adapters.summary import MATRIX_LAYERS, support_matrix
    from pefomed.models.base import PARTS
    from pefomed.models.registry import create_model

    bundle = create_model(model)
    matrix = support_matrix(bundle)
    if as_json:
        cells = {m: {p: {"ok": why is None, "reason": why} for p, why in row.items()} for m, row in matrix.items()}
        click.echo(json.dumps({"model": bundle.name, "family": bundle.family.name, "layers": MATRIX_LAYERS,
                               "matrix": cells}, indent=2))
        return
    reasons: list[str] = []  # each refusal once, as a numbered note under the table

    def cell(why: str | None) -> str:
        if why is None:
            return "[green]ok[/]"
        if why not in reasons:
            reasons.append(why)
        return f"[red]no[/] ({reasons.index(why) + 1})"

    table = Table(title=f"adapter support on {bundle.name} ({bundle.family.name}; layers={MATRIX_LAYERS})")
    table.add_column("method")
    for part in PARTS:
        table.add_column(part)
    for method, row in matrix.items():
        table.add_row(method, *(cell(row[p]) for p in PARTS))
    console = Console()
    console.print(table)
    for i, why in enumerate(reasons, 1):
        console.print(f"({i}) {why}", highlight=False)


@ls.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def ls_datasets(as_json: bool) -> None:
    """Registered Med-VQA datasets, their splits and where their files are looked for."""
    from rich.console import Console
    from rich.table import Table

    from pefomed.data import get_dataset, list_datasets

    rows = []
    for name in list_datasets():
        entry = get_dataset(name)
        root = entry.default_root() if entry.needs_root else None
        rows.append({"name": name, "splits": list(entry.splits), "needs_root": entry.needs_root,
                     "default_root": str(root) if root else None,
                     "found": bool(root and root.exists()) if entry.needs_root else True,
                     "description": entry.description})
    if as_json:
        click.echo(json.dumps({"datasets": rows}, indent=2))
        return
    table = Table(title="datasets (named datasets look under $PEFOMED_DATA/<name>, or pass --dataset-root)")
    for col in ("name", "splits", "files", "description"):
        table.add_column(col)
    for r in rows:
        where = "built in" if not r["needs_root"] else (
            f"[green]{r['default_root']}[/]" if r["found"] else f"[red]missing[/] {r['default_root']}")
        table.add_row(r["name"], ", ".join(r["splits"]), where, r["description"])
    Console().print(table)
