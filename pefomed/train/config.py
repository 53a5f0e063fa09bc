"""Run config files: YAML <-> :class:`~pefomed.train.recipe.RunSpec`, every problem reported at once.

    spec = load_config("run.yaml", overrides={("budget", "max_steps"): 500})
    Path("run.yaml").write_text(dump_config(spec))

The keys are the schema's field names (``train:``, ``budget:`` and ``control:`` are sections);
``pefomed train --config`` reads the same file, its flags override it, and every run folder
stores its resolved ``config.yaml`` so ``pefomed train --config RUN/config.yaml`` repeats the run.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError, did_you_mean
from pefomed.train.schema import MISSING, coerce, is_config, leaves

CONFIG_FILE = "config.yaml"


class ConfigError(PefomedError):
    """A run config with problems; ``.problems`` holds one line per problem."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        n = len(problems)
        if n == 1:  # the common case stays one line
            super().__init__(f"{where}: {problems[0]}")
            return
        head = f"{where}: {n} problems in the run config"
        super().__init__(head + "".join(f"\n  - {p}" for p in problems))


def read_config(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML config file (one-line errors for a missing file or bad YAML)."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise PefomedError(f"config file {path} does not exist; give a YAML file "
                           "(`pefomed train --print-config > run.yaml` writes one)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise PefomedError(f"config file {path} is not valid YAML{at}: "
                           f"{getattr(exc, 'problem', None) or exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PefomedError(f"config file {path} must hold a mapping (key: value lines), "
                           f"but holds a {type(raw).__name__}")
    return raw


def merge(raw: dict[str, Any], overrides: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """``raw`` with each ``{path: value}`` of ``overrides`` set (sections created as needed)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for path, value in overrides.items():
        node = out
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    return out


def spec_from_mapping(raw: dict[str, Any], where: str = "<config>") -> Any:
    """Validate ``raw`` into a RunSpec; raise :class:`ConfigError` listing EVERY problem."""
    from pefomed.train.recipe import RunSpec

    problems: list[str] = []
    kwargs = _section(RunSpec, raw, "", problems)
    spec = None
    try:  # a failed section is left out (its default stands in) so the rest is still checked
        spec = RunSpec(**kwargs)
    except PefomedError as exc:
        problems.append(str(exc))
    except TypeError:
        pass  # a required field is missing: reported by _section
    if spec is not None:
        problems.extend(_names(spec))
    if problems:
        raise ConfigError(where, problems)
    return spec


def load_config(path: str | Path, overrides: dict[tuple[str, ...], Any] | None = None) -> Any:
    """The RunSpec of a YAML file, with ``overrides`` (``{("train", "lr"): 1e-3}``) applied."""
    return spec_from_mapping(merge(read_config(path), overrides or {}), where=str(path))


def config_mapping(spec: Any, *, with_out_dir: bool = True) -> dict[str, Any]:
    """The spec as the plain mapping a config file holds (tuples as lists)."""
    data = spec.to_dict()
    if not with_out_dir:
        data.pop("out_dir", None)
    return _plain(data)


def dump_config(spec: Any, *, with_out_dir: bool = True) -> str:
    """YAML text that :func:`load_config` reads back into an equal spec."""
    import yaml

    return yaml.safe_dump(config_mapping(spec, with_out_dir=with_out_dir), sort_keys=False,
                          default_flow_style=False)


def _section(cls: type, raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
    """Keyword arguments for ``cls`` from ``raw``: unknown keys reported, nested configs built."""
    if not isinstance(raw, dict):
        problems.append(f"{where.rstrip('.') or 'config'}: must be a mapping, but got {raw!r}")
        return {}
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            problems.append(f"{where}{key}: {did_you_mean(str(key), names, 'key')}; remove or rename it")
    by_name = {leaf.path[-1]: leaf for leaf in leaves(cls) if len(leaf.path) == 1}
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in raw:
            continue
        kind = _config_kind(hints[name])
        if kind is not None:
            if raw[name] is None:
                continue
            sub = _section(kind, raw[name], f"{where}{name}.", problems)
            try:
                kwargs[name] = kind(**sub)
            except PefomedError as exc:
                problems.append(f"{where}{name}: {exc}")
            except TypeError as exc:  # a required field is missing
                problems.append(f"{where}{name}: {exc}")
            continue
        kwargs[name] = coerce(by_name[name], raw[name]) if name in by_name else raw[name]
    missing = [n for n, leaf in by_name.items() if leaf.default is MISSING and n not in raw]
    for name in missing:
        problems.append(f"{where}{name}: is required; add `{name}: ...` to the config or give --{name}")
    return kwargs


def _config_kind(hint: Any) -> type | None:
    return hint if is_config(hint) else None


def _names(spec: Any) -> list[str]:
    """Registry names that would otherwise fail only after data and model are loaded."""
    from pefomed.adapters import get_adapter
    from pefomed.evaluation import resolve_protocols

    problems = []
    try:
        get_adapter(spec.adapter)
    except PefomedError as exc:
        problems.append(f"adapter: {exc}")
    try:
        resolve_protocols(spec.protocols)
    except PefomedError as exc:
        problems.append(f"protocols: {exc}")
    try:
        resolve_protocols([spec.control.metric])
    except PefomedError as exc:
        problems.append(f"control.metric: {exc}")
    return problems


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
