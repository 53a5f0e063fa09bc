"""``pefomed convert FORMAT SRC DST``: bring checkpoints in other formats into the transformers format
pefomed loads."""
from __future__ import annotations

from pathlib import Path

import click

from pefomed.cli.app import main

#: source formats -> what they are (one today: the original LLaVA code base, as LLaVA-Med publishes)
FORMATS = {"llava-med": "an original-format LLaVA / LLaVA-Med checkpoint (llava_mistral, llava_llama)"}


@main.command("convert")
@click.argument("source_format", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--vision-tower", type=click.Path(path_type=Path),
              help="llava-med: local CLIP folder to use instead of the checkpoint's mm_vision_tower name (offline)")
def convert_cmd(source_format: str, src: Path, dst: Path, vision_tower: Path | None) -> None:
    """Convert the checkpoint in SRC (FORMAT: llava-med, an original-format LLaVA / LLaVA-Med
    checkpoint) to the transformers format in DST, then train/eval/predict on DST."""
    from pefomed.export.convert import convert_llava_med

    out = convert_llava_med(src, dst, vision_tower=vision_tower)
    click.echo(f"converted {src} to {out} (transformers LLaVA); use it as --model {out}")
