"""One searchable hyperparameter ``{type: float|int|categorical, low, high, log, step, choices}``.

The same shape as the adapter catalogue's ``search_space`` entries (``adapters/<method>.yaml``);
a sweep spec may override any field of a catalogue entry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

TYPES = ("float", "int", "categorical")
FIELDS = ("type", "low", "high", "log", "step", "choices")


@dataclass(frozen=True)
class HyperParam:
    """A searchable value. ``problems()`` lists every rule broken (empty when valid)."""

    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple | None = None

    def problems(self) -> list[str]:
        """Every broken rule as ``field: rule, but got value; fix``."""
        out: list[str] = []
        if self.type not in TYPES:
            return [f"type must be one of {', '.join(TYPES)}, but got {self.type!r}"]
        if self.type == "categorical":
            if not self.choices:
                out.append("choices must be a non-empty list for type categorical, but got "
                           f"{self.choices!r}; write e.g. choices: [4, 8, 16]")
            return out
        nums = {"low": self.low, "high": self.high}
        for name, value in nums.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                out.append(f"{name} must be a finite number for type {self.type}, but got {value!r}")
        if out:
            return out
        if self.type == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            out.append(f"low and high must be integers for type int, but got (low={self.low}, high={self.high})")
        if self.low > self.high:
            out.append(f"low <= high must hold, but got (low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            out.append(f"low > 0 must hold with log: true, but got low={self.low}")
        if self.step is not None:
            if isinstance(self.step, bool) or not isinstance(self.step, (int, float)) or self.step <= 0:
                out.append(f"step > 0 must hold, but got step={self.step!r}")
            elif self.log:
                out.append("step and log: true cannot be combined; drop one of them")
        return out

    def grid(self) -> list | None:
        """All values when the space is finite (categorical, int, or float with a step), else None."""
        if self.type == "categorical":
            return list(self.choices or ())
        if self.type == "int":
            step = int(self.step or 1)
            if self.log and self.step is None:
                return None if self.high - self.low > 64 else list(range(int(self.low), int(self.high) + 1))
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            return None
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [round(self.low + i * self.step, 12) for i in range(n + 1)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "categorical":
            out["choices"] = list(self.choices or ())
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        return out


def hyperparam_from(obj: Any) -> HyperParam:
    """A :class:`HyperParam` from a dict or any object with the same attribute names."""
    if isinstance(obj, HyperParam):
        return obj
    get = obj.get if isinstance(obj, dict) else (lambda k, d=None: getattr(obj, k, d))
    choices = get("choices")
    kind = get("type") or ("categorical" if choices is not None else "float")
    return HyperParam(type=str(kind), low=get("low"), high=get("high"), log=bool(get("log") or False),
                      step=get("step"), choices=tuple(choices) if choices is not None else None)


def unknown_fields(obj: dict) -> list[str]:
    """Keys of a hyperparameter mapping that are not hyperparameter fields."""
    return [k for k in obj if k not in FIELDS]
