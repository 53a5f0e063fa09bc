"""The root click group and the one place user errors become a one-line message + exit 2."""
from __future__ import annotations

import logging
import os
import warnings

import click

from pefomed.errors import PefomedError


class PefomedGroup(click.Group):
    """Turns PefomedError anywhere below into ``error: <message>`` and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PefomedError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:  # a training run says where its checkpoint is
            click.echo(str(exc) or "interrupted", err=True)
            ctx.exit(130)


def _quiet_libraries() -> None:
    # transformers/tokenizers chatter (progress bars, torchvision fallback warnings) would bury
    # the tables users came for.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # bitsandbytes logs a CPU-kernel fallback notice on every 4-bit layer; it is not actionable
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    # peft 0.21 still calls a transformers 5 name that is deprecated for v6; nothing users can do
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    # peft's LayerNorm tuning trains RMSNorm layers correctly but warns that it does not know them
    warnings.filterwarnings("ignore", message=r"Unsupported layer type .*RMSNorm", category=UserWarning)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers always installed
        pass


@click.group(cls=PefomedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pefomed")
def main() -> None:
    """pefomed: which adapter gives the best Med-VQA accuracy for what it costs?"""
    _quiet_libraries()


def parse_set_options(pairs: tuple[str, ...], where: str = "--set") -> dict:
    """``key=value`` pairs -> dict, values parsed as YAML scalars (``r=8`` -> 8, ``x=[a,b]`` -> list)."""
    import yaml

    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise PefomedError(f"{where} {pair!r} is not key=value; write e.g. {where} r=8")
        key, raw = pair.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def parse_parts(values: tuple[str, ...] | str | None, where: str = "--parts") -> tuple[str, ...] | None:
    """``--parts`` values (repeated and/or comma-separated) -> names; None when the option is absent.

    Given but empty (``--parts ""``, ``--parts ,``) is refused: it must not silently mean the default.
    """
    from pefomed.models.base import PARTS

    if values is None or values == ():
        return None
    values = (values,) if isinstance(values, str) else tuple(values)
    parts = tuple(p.strip() for value in values for p in value.split(",") if p.strip())
    if not parts:
        raise PefomedError(f"{where} {','.join(values)!r} names no part; give one or more of "
                           f"{', '.join(PARTS)} (e.g. {where} language), or leave {where} out for the default")
    return parts
