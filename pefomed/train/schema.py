"""The run config schema as data: dataclass fields with help text, walked to make CLI options.

A field of :class:`~pefomed.train.recipe.RunSpec` (or of a nested config dataclass such as
``TrainConfig``) declared with :func:`option` is at once a YAML key, a Python argument and a
``pefomed train --flag``: adding a setting is one line in its dataclass.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Any

#: a field whose metadata says ``cli=NO_CLI`` is YAML/Python only (e.g. ``train.seed``: ``--seed`` sets it)
NO_CLI = ""


def option(default: Any = MISSING, *, help: str = "", cli: str | None = None,  # noqa: A002 - click's word
           default_factory: Any = MISSING) -> Any:
    """A dataclass field that is also a CLI option. ``cli`` overrides the flag name
    (``"--out"``); ``cli=NO_CLI`` keeps it out of the CLI."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"help": help, "cli": cli})


@dataclass(frozen=True)
class Leaf:
    """One scalar setting reachable from the root schema: ``path`` like ``("train", "lr")``."""

    path: tuple[str, ...]
    kind: type  # int, float, bool, str, tuple (of str) or dict
    optional: bool
    default: Any
    help: str
    flag: str | None  # "--lr"; None when not on the CLI

    @property
    def dest(self) -> str:
        return "__".join(self.path)

    @property
    def key(self) -> str:
        return ".".join(self.path)


def is_config(cls: Any) -> bool:
    return isinstance(cls, type) and dataclasses.is_dataclass(cls)


def leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[Leaf]:
    """Every scalar field of ``cls``, nested config dataclasses flattened (depth first)."""
    hints = typing.get_type_hints(cls)
    out: list[Leaf] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        kind, optional = _kind(hint)
        if is_config(kind):
            out.extend(leaves(kind, prefix + (f.name,)))
            continue
        cli = f.metadata.get("cli")
        flag = None if cli == NO_CLI else (cli or "--" + f.name.replace("_", "-"))
        default = f.default if f.default is not MISSING else (
            f.default_factory() if f.default_factory is not MISSING else MISSING)
        out.append(Leaf(prefix + (f.name,), kind, optional, default, f.metadata.get("help", ""), flag))
    return out


def _kind(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kind, _ = _kind(args[0]) if len(args) == 1 else (Any, False)
        return kind, True
    if origin is tuple or hint is tuple:
        return tuple, False
    if origin is dict or hint is dict:
        return dict, False
    if hint is Any:
        return Any, False
    return hint, False


def check_unique_flags(all_leaves: list[Leaf]) -> None:
    seen: dict[str, str] = {}
    for leaf in all_leaves:
        if leaf.flag is None:
            continue
        if leaf.flag in seen:  # a programming error, caught by the tests
            raise TypeError(f"CLI flag {leaf.flag} is declared by both {seen[leaf.flag]} and {leaf.key}; "
                            f"give one of them option(cli=...) or cli=NO_CLI")
        seen[leaf.flag] = leaf.key


def click_options(all_leaves: list[Leaf]) -> list[Any]:
    """Click decorators, one per leaf on the CLI. Every default is None: unset means "from the
    config file or the schema default", so flags can override a file."""
    import click

    check_unique_flags(all_leaves)
    out = []
    for leaf in all_leaves:
        if leaf.flag is None:
            continue
        default = "" if leaf.default is MISSING or leaf.default is None else leaf.default
        shown = f" [default: {_show(default)}]" if default != "" and leaf.kind is not dict else ""
        help_text = (leaf.help or leaf.key) + shown
        if leaf.kind is bool:
            name = leaf.flag[2:]
            out.append(click.option(f"--{name}/--no-{name}", leaf.dest, default=None, help=help_text))
        elif leaf.kind is dict:
            out.append(click.option(leaf.flag, leaf.dest, multiple=True, metavar="KEY=VALUE", help=help_text))
        elif leaf.kind is tuple:
            out.append(click.option(leaf.flag, leaf.dest, multiple=True, help=help_text + " (repeat or comma-separate)"))
        else:
            ctype = {int: click.INT, float: click.FLOAT}.get(leaf.kind, click.STRING)
            extra = " ('none' to unset)" if leaf.optional and leaf.kind is str else ""
            out.append(click.option(leaf.flag, leaf.dest, type=ctype, default=None, help=help_text + extra))
    return out


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return str(value)


def cli_overrides(all_leaves: list[Leaf], values: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    """The options given on the command line as ``{path: value}`` (unset ones left out)."""
    from pefomed.cli.app import parse_set_options

    out: dict[tuple[str, ...], Any] = {}
    for leaf in all_leaves:
        if leaf.flag is None:
            continue
        raw = values.get(leaf.dest)
        if raw is None or raw == ():
            continue
        if leaf.kind is dict:
            raw = parse_set_options(raw, leaf.flag)
        elif leaf.kind is tuple and leaf.flag == "--parts":
            from pefomed.cli.app import parse_parts

            raw = parse_parts(raw)  # given but empty must not silently mean the default
        elif leaf.kind is tuple:
            raw = tuple(v.strip() for value in raw for v in value.split(",") if v.strip())
            if not raw:
                from pefomed.errors import PefomedError

                raise PefomedError(f"{leaf.flag} names nothing; give one or more values, or leave {leaf.flag} "
                                   "out for the default")
        elif leaf.kind is str and leaf.optional and raw.lower() == "none":
            raw = None
        out[leaf.path] = raw
    return out


def coerce(leaf: Leaf, value: Any) -> Any:
    """YAML spellings the schema accepts: ``1e-3`` (a string in YAML 1.1) as a float, lists as tuples."""
    if value is None:
        return None
    if leaf.kind is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if leaf.kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if leaf.kind is tuple and isinstance(value, list):
        return tuple(value)
    return value
