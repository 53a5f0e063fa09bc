"""Load and validate ``adapters/<method>.yaml``: description, parts, defaults, presets, search space.

The YAML files are data (edited without touching code); the method modules own the *rules*
(:class:`~pefomed.adapters.params.Param`). Every file is checked against its method's rules and
all problems in all files are reported at once. The schema is documented in adapters/README.md.
A search-space dimension is a plain dict with all six keys present::

    {"type": "float"|"int"|"categorical", "low": .., "high": .., "log": bool, "step": .., "choices": [..]}

(unused keys are None; ``log`` is False unless set).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pefomed.adapters.params import Param, raise_if
from pefomed.errors import did_you_mean
from pefomed.models.base import PARTS

#: search-space keys that are training settings, not method settings (routed to TrainConfig)
TRAINING_PARAMS: dict[str, Param] = {
    "learning_rate": Param("float", low=0, low_open=True, high=1, help="optimizer learning rate"),
}
FILE_KEYS = ("description", "parts", "defaults", "train_defaults", "search_space", "presets")
DIM_KEYS = ("type", "low", "high", "log", "step", "choices")
DIM_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class MethodData:
    """What ``adapters/<method>.yaml`` says about one method (already validated)."""

    description: str
    parts: tuple[str, ...]
    defaults: dict[str, Any]
    train_defaults: dict[str, Any] = field(default_factory=dict)
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_all(folder: Path, methods: Mapping[str, Any]) -> dict[str, MethodData]:
    """Read ``<folder>/<name>.yaml`` for every method in ``methods`` (name -> method object)."""
    import yaml

    errors: list[str] = []
    out: dict[str, MethodData] = {}
    if not folder.is_dir():
        raise_if([f"adapter folder {folder} does not exist (set PEFOMED_ADAPTERS_DIR to the adapters/ folder)"],
                 "cannot load adapter presets")
    for path in sorted(folder.glob("*.yaml")):
        if path.stem not in methods:
            errors.append(f"{path.name}: " + did_you_mean(path.stem, methods, "adapter method")
                          + " (rename the file after its method)")
    for name, method in methods.items():
        path = folder / f"{name}.yaml"
        if not path.is_file():
            errors.append(f"{path.name}: missing (every adapter method needs one)")
            continue
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            errors.append(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})")
            continue
        data, errs = _parse(raw, method)
        errors.extend(f"{path.name}: {e}" for e in errs)
        if data is not None:
            out[name] = data
    raise_if(errors, f"invalid adapter presets in {folder}")
    return out


def _parse(raw: Any, method: Any) -> tuple[MethodData | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"must be a mapping of {', '.join(FILE_KEYS)}, but got {type(raw).__name__}"]
    errors = [did_you_mean(str(k), FILE_KEYS, "field") for k in raw if k not in FILE_KEYS]
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip() or "\n" in description.strip():
        errors.append(f"description must be one non-empty line, but got {description!r}")
    parts = _parse_parts(raw.get("parts"), method, errors)
    defaults = _parse_settings(raw.get("defaults") or {}, method.params, "defaults", errors)
    missing = sorted(set(method.params) - set(defaults))
    if missing:
        errors.append(f"defaults must give every setting of {method.name}; missing {', '.join(missing)}")
    train_defaults = _parse_settings(raw.get("train_defaults") or {}, TRAINING_PARAMS, "train_defaults", errors)
    presets = _parse_presets(raw.get("presets") or {}, method, errors)
    space = _parse_space(raw.get("search_space") or {}, {**method.params, **TRAINING_PARAMS}, errors)
    if errors:
        return None, errors
    return MethodData(description.strip(), parts, defaults, train_defaults, space, presets), []


def _parse_parts(raw: Any, method: Any, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(f"parts must be a non-empty list drawn from {', '.join(method.max_parts)}, but got {raw!r}")
        return ()
    for p in raw:
        if p not in PARTS:
            errors.append("parts: " + did_you_mean(str(p), PARTS, "part"))
        elif p not in method.max_parts:
            errors.append(f"parts: {method.name} cannot target {p!r} ({method.parts_reason})")
    return tuple(raw)


def _parse_settings(raw: Any, params: Mapping[str, Param], where: str, errors: list[str]) -> dict[str, Any]:
    from pefomed.adapters.params import check_settings

    if not isinstance(raw, dict):
        errors.append(f"{where} must be a mapping, but got {raw!r}")
        return {}
    values, errs = check_settings(params, raw, where)
    errors.extend(f"{where}: {e}" for e in errs)
    return values


def _parse_presets(raw: Any, method: Any, errors: list[str]) -> dict[str, dict[str, Any]]:
    if not raw:
        return {}
    preset_param = method.params.get("preset")
    if preset_param is None or not isinstance(raw, dict):
        errors.append(f"presets need a 'preset' setting of choices and a mapping; {method.name} has none")
        return {}
    out = {}
    for name, values in raw.items():
        if name not in (preset_param.choices or ()):
            errors.append("presets: " + did_you_mean(str(name), preset_param.choices or (), "preset"))
        out[name] = _parse_settings(values or {}, method.params, f"presets.{name}", errors)
    return out


def _parse_space(raw: Any, params: Mapping[str, Param], errors: list[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        errors.append(f"search_space must be a mapping, but got {raw!r}")
        return {}
    out = {}
    for key, dim in raw.items():
        where = f"search_space.{key}"
        if key not in params:
            errors.append(f"{where}: " + did_you_mean(str(key), params, "setting"))
            continue
        parsed = _parse_dim(dim, params[key], str(key), where, errors)
        if parsed is not None:
            out[key] = parsed
    return out


def _parse_dim(dim: Any, param: Param, key: str, where: str, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(dim, dict):
        errors.append(f"{where} must be a mapping with {', '.join(DIM_KEYS)}, but got {dim!r}")
        return None
    n_before = len(errors)
    errors.extend(f"{where}: " + did_you_mean(str(k), DIM_KEYS, "search-space key") for k in dim if k not in DIM_KEYS)
    out: dict[str, Any] = {k: dim.get(k) for k in DIM_KEYS}
    out["log"] = bool(dim.get("log", False))
    kind = out["type"]
    if kind not in DIM_TYPES:
        errors.append(f"{where}.type must be one of {', '.join(DIM_TYPES)}, but got {kind!r}")
        return None
    if kind == "categorical":
        _check_categorical(out, param, key, where, errors)
    else:
        _check_range(out, param, key, where, errors)
    return out if len(errors) == n_before else None


def _check_categorical(out: dict, param: Param, key: str, where: str, errors: list[str]) -> None:
    choices = out["choices"]
    if not isinstance(choices, list) or not choices:
        errors.append(f"{where}.choices must be a non-empty list, but got {choices!r}")
        return
    extra = [k for k in ("low", "high", "step") if out[k] is not None] + (["log"] if out["log"] else [])
    if extra:
        errors.append(f"{where}: a categorical dimension takes only choices, but got {', '.join(extra)}")
    coerced = []
    for c in choices:
        value, err = param.coerce(key, c)
        if err:
            errors.append(f"{where}.choices: {err}")
        coerced.append(value)
    out["choices"] = coerced


def _check_range(out: dict, param: Param, key: str, where: str, errors: list[str]) -> None:
    kind, low, high, step = out["type"], out["low"], out["high"], out["step"]
    if param.kind not in ("int", "float") or (kind == "float" and param.kind == "int"):
        errors.append(f"{where}.type {kind!r} does not fit {key} (a {param.kind}); use "
                      f"{'int' if param.kind == 'int' else 'categorical'}")
        return
    if out["choices"] is not None:
        errors.append(f"{where}: a {kind} dimension takes low/high, not choices")
    for bound_name, bound in (("low", low), ("high", high)):
        value, err = param.coerce(key, bound)
        if err or (kind == "int" and not isinstance(value, int)):
            errors.append(f"{where}.{bound_name}: {err or f'{key} bounds must be whole numbers, but got {bound!r}'}")
            return
        out[bound_name] = value
    low, high = out["low"], out["high"]
    if not low <= high:
        errors.append(f"{where}: low <= high must hold, but got (low={low}, high={high})")
    if out["log"] and not low > 0:
        errors.append(f"{where}: a log scale needs low > 0, but got low={low}")
    if step is not None:
        if out["log"]:
            errors.append(f"{where}: step and log cannot be combined (optuna refuses it)")
        elif isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            errors.append(f"{where}.step > 0 must hold, but got step={step!r}")
        elif kind == "int" and not float(step).is_integer():
            errors.append(f"{where}.step must be a whole number for an int dimension, but got step={step!r}")
