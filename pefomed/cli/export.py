"""``pefomed export``: a trained adapter (or run) as a standalone Hugging Face model folder."""
from __future__ import annotations

from pathlib import Path

import click

from pefomed.cli.app import main


@main.command("export")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="folder to write (new or empty)")
@click.option("--dtype", default="fp32", show_default=True, help="precision of the saved weights: fp32, bf16 or fp16")
@click.option("--model", help="base model to merge into (default: the one the adapter was trained on)")
@click.option("--family", help="model family, when the base checkpoint's config does not say")
def export_cmd(source: Path, out_dir: Path, dtype: str, model: str | None, family: str | None) -> None:
    """Merge the adapter of SOURCE (an adapter or run folder) into its base and save it to --out."""
    from pefomed.export import export_model, read_export

    out = export_model(source, out_dir, dtype=dtype, model=model, family=family)
    info = read_export(out)
    click.echo(f"exported {info['model']} + {info['method']} ({info['dtype']}) to {out}; load it with "
               f"transformers.{info['auto_class']}.from_pretrained({str(out)!r}) (see {out / 'README.md'})")
