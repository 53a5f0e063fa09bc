"""``pefomed inspect MODEL --adapter METHOD``: what an adapter touches and what it costs."""
from __future__ import annotations

import json

import click

from pefomed.cli.app import main, parse_parts, parse_set_options


@main.command("inspect")
@click.argument("model")
@click.option("--family", help="model family, when the checkpoint's config does not name one")
@click.option("--adapter", "method", required=True, help="adapter method (see `pefomed ls adapters`)")
@click.option("--parts", default="language", show_default=True, help="comma-separated: vision,projector,language")
@click.option("--layers", default="attention", show_default=True, help="attention | mlp | all-linear")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="override a setting (repeatable)")
@click.option("--train-projector", is_flag=True, help="also train the projector fully")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def inspect_cmd(model: str, family: str | None, method: str, parts: str, layers: str, sets: tuple[str, ...],
                train_projector: bool, as_json: bool) -> None:
    """Inject METHOD into MODEL and show touched modules, trainable parameters and adapter size."""
    from pefomed.adapters import inject
    from pefomed.adapters.summary import summarize
    from pefomed.models.registry import create_model

    settings = parse_set_options(sets)
    bundle = create_model(model, family=family, weights=False)  # shapes are enough: no weight file is read
    adapted = inject(bundle, method, parts=parse_parts(parts), layers=layers,
                     settings=settings, train_projector=train_projector)
    record = summarize(adapted)
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        render(record)


def render(record: dict) -> None:
    """The summary as rich tables (a pure function of the record)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{record['method']}[/] on [bold]{record['model']}[/] ({record['family']}): "
                  f"parts={','.join(record['parts'])} layers={record['layers']} "
                  f"train_projector={record['train_projector']}")
    console.print("settings: " + (", ".join(f"{k}={v}" for k, v in record["settings"].items()) or "(none)"))
    table = Table(title="trainable parameters")
    table.add_column("part")
    table.add_column("parameters", justify="right")
    for part, n in record["trainable_by_part"].items():
        if n or part != "other":
            table.add_row(part, f"{n:,}")
    table.add_row("[bold]total[/]", f"[bold]{record['trainable_parameters']:,}[/]")
    console.print(table)
    console.print(f"{record['trainable_percent']:.4f}% of {record['total_parameters']:,} parameters; "
                  f"adapter size {record['adapter_bytes']:,} bytes; "
                  f"mergeable: {'yes' if record['mergeable'] else 'no'}; "
                  f"vision trainable: {'yes' if record['vision_trainable'] else 'no'}")
    touched = record["touched_modules"]
    console.print(f"touched modules ({len(touched)}):")
    for name in touched:
        console.print(f"  {name}", highlight=False)
