"""Typed rules for adapter settings: each method declares its parameters once, as :class:`Param`.

The same rules check user settings (``inject(..., settings=...)``, ``--set key=value``), the
defaults and presets in ``adapters/<method>.yaml``, and the bounds of its search space.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pefomed.errors import PefomedError, did_you_mean

KINDS = ("int", "float", "bool", "str", "str_list")


@dataclass(frozen=True)
class Param:
    """One setting: its kind and the rule its value must satisfy.

    ``low``/``high`` bound numbers (inclusive unless ``low_open``/``high_open``), ``choices``
    lists the allowed values, ``nullable`` allows ``None``.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    help: str = ""
    #: a size bounded by the model, checked at injection before anything is allocated:
    #: "width" (at most the widest targeted Linear layer), "positions" (at most the LM's positions)
    bound: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Param kind must be one of {', '.join(KINDS)}, but got {self.kind!r}")

    def rule(self, name: str) -> str:
        """The rule in words, e.g. ``r >= 1`` or ``0 <= lora_dropout < 1``."""
        if self.choices is not None:
            return f"{name} in ({', '.join(repr(c) for c in self.choices)})"
        lo = None if self.low is None else f"{_num(self.low)} {'<' if self.low_open else '<='} "
        hi = None if self.high is None else f" {'<' if self.high_open else '<='} {_num(self.high)}"
        if lo and hi:
            return f"{lo}{name}{hi}"
        if lo:
            return f"{name} {'>' if self.low_open else '>='} {_num(self.low)}"
        if hi:
            return f"{name}{hi}"
        return f"{name} is a {self.kind}"

    def coerce(self, name: str, value: Any) -> tuple[Any, str | None]:
        """``(value, None)`` when valid (ints widen to floats, numeric strings parse), else ``(value, error)``."""
        if value is None:
            return (None, None) if self.nullable else (value, f"{name} must be set (a {self.kind}), but got None")
        typed, ok = _as_kind(self.kind, value)
        if not ok:
            return value, f"{name} must be a {_KIND_WORDS[self.kind]}, but got {name}={value!r}"
        if self.choices is not None and typed not in self.choices:
            return value, f"{self.rule(name)} must hold, but got {name}={typed!r}"
        if self.kind in ("int", "float") and not self._in_range(typed):
            return value, f"{self.rule(name)} must hold, but got {name}={_num(typed)}"
        return typed, None

    def _in_range(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        if self.high is not None and (x > self.high or (self.high_open and x == self.high)):
            return False
        return True


_KIND_WORDS = {"int": "whole number", "float": "number", "bool": "boolean (true/false)",
               "str": "string", "str_list": "list of strings"}


def _as_kind(kind: str, value: Any) -> tuple[Any, bool]:
    if kind == "bool":
        return value, isinstance(value, bool)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value), True
        return value, isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        if isinstance(value, str):  # YAML reads `1e-3` (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                return value, False
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return (float(value) if ok else value), ok
    if kind == "str":
        return value, isinstance(value, str)
    if isinstance(value, str):  # str_list: one name is a list of one
        value = [value]
    ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return (list(value) if ok else value), ok


def _num(x: float) -> str:
    return repr(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else repr(x)


def check_settings(params: Mapping[str, Param], settings: Mapping[str, Any], where: str) -> tuple[dict, list[str]]:
    """Coerce ``settings`` against ``params``; returns (coerced, errors) with every problem listed."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in settings.items():
        if key not in params:
            errors.append(did_you_mean(str(key), params, f"{where} setting"))
            continue
        typed, err = params[key].coerce(key, value)
        if err:
            errors.append(err)
        out[key] = typed
    return out, errors


def raise_if(errors: list[str], what: str) -> None:
    """One PefomedError naming every problem at once."""
    if errors:
        raise PefomedError(f"{what}: " + "; ".join(errors))
