"""``pefomed convert``: bring checkpoints in other formats into the transformers format pefomed loads."""
from __future__ import annotations

from pathlib import Path

import click

from pefomed.cli.app import main


@main.group("convert")
def convert_group() -> None:
    """Convert a checkpoint to the transformers format (then train/eval/predict on DST)."""


@convert_group.command("llava-med")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--vision-tower", type=click.Path(path_type=Path),
              help="local CLIP folder to use instead of the checkpoint's mm_vision_tower name (offline)")
def llava_med_cmd(src: Path, dst: Path, vision_tower: Path | None) -> None:
    """Convert an original-format LLaVA / LLaVA-Med checkpoint (llava_mistral, llava_llama) in SRC to DST."""
    from pefomed.export.convert import convert_llava_med

    out = convert_llava_med(src, dst, vision_tower=vision_tower)
    click.echo(f"converted {src} to {out} (transformers LLaVA); use it as --model {out}")
