"""Options shared by ``train`` and ``eval``: how data is read and how inputs are built.

Each option is a :class:`~pefomed.train.recipe.RunSpec` field of the same name (``--dataset-root``
-> ``dataset_root``, ``--field image=img_path`` -> ``fields``), so the CLI, YAML and Python API
share one schema.
"""
from __future__ import annotations

from collections.abc import Callable

import click

from pefomed.errors import PefomedError

_DATA = (
    click.option("--dataset-root", help="folder the dataset (or a file's image paths) lives in "
                 "(default: PEFOMED_DATA/<name> for registered datasets, the file's folder for files)"),
    click.option("--field", "field_pairs", multiple=True, metavar="FIELD=COLUMN",
                 help="map a record field to your column, e.g. --field image=img_path (repeat)"),
    click.option("--language", help="SLAKE: en (default), zh or all"),
    click.option("--on-bad-record", type=click.Choice(["error", "skip"]),
                 help="unusable records: skip and count them, or stop (default: skip for registered "
                      "public datasets, error for your files)"),
)
_INPUTS = (
    click.option("--prompt-template", help="auto (default: the model's chat template if it has one, else "
                 "plain), plain, chat, a format string with {question}, a Jinja template or a file"),
    click.option("--image-size", type=int, help="image edge in pixels (Qwen-VL: max_pixels = size^2; "
                 "Idefics3/SmolVLM: longest edge; fixed-size towers accept only their own size)"),
    click.option("--max-pixels", type=int, help="cap on pixels per image (Qwen2-VL/2.5-VL), instead of --image-size"),
)


def data_options(fn: Callable) -> Callable:
    """Decorate a command with ``--dataset-root``, ``--field``, ``--language``, ``--on-bad-record``."""
    for option in reversed(_DATA):
        fn = option(fn)
    return fn


def input_options(fn: Callable) -> Callable:
    """Decorate a command with ``--prompt-template``, ``--image-size``, ``--max-pixels``."""
    for option in reversed(_INPUTS):
        fn = option(fn)
    return fn


def parse_fields(pairs: tuple[str, ...]) -> dict[str, str] | None:
    """``("image=img_path",)`` -> ``{"image": "img_path"}`` (None when empty); values stay text."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise PefomedError(f"--field {pair!r} is not FIELD=COLUMN; write e.g. --field image=img_path")
        out[key.strip()] = value.strip()
    return out or None


def echo_notes(notes: list[str]) -> None:
    """Print a run's notes (skipped records, hold-out, train/eval overlap) to stderr, in colour."""
    for note in notes:
        loud = note.startswith("EVALUATING ON TRAINING")
        click.secho(("WARNING: " if loud else "note: ") + note, err=True, fg="red" if loud else "yellow",
                    bold=loud)
