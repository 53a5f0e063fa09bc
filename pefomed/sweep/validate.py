"""Validate a raw sweep mapping into a :class:`SweepSpec`, collecting EVERY problem at once.

Each problem is one line: the field, the rule and the value, and how to fix it. Unknown names
(keys, adapters, protocols, costs, models, datasets, samplers) get "did you mean".
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pefomed.errors import did_you_mean
from pefomed.sweep.execution import parse_execution
from pefomed.sweep.hparams import HyperParam, hyperparam_from, unknown_fields
from pefomed.sweep.spec import (COST_NAMES, LR, SAMPLERS, TRAIN_PARAMS, AdapterSpec, DatasetSpec,
                                ObjectiveSpec, SpecError, SweepSpec, TrainSpec)

TOP_KEYS = ("name", "description", "model", "family", "dataset", "adapters", "budget", "train", "objectives",
            "n_trials", "timeout", "sampler", "seed", "storage", "study", "run_dir", "prompt_template",
            "image_size", "max_pixels", "execution")
DATASET_KEYS = ("name", "root", "options", "train_split", "search_split", "report_split",
                "train_limit", "eval_limit", "report_limit", "fields", "language", "on_bad_record")
ADAPTER_KEYS = ("name", "label", "settings", "parts", "layers", "train_projector", "search_space")
OBJECTIVE_KEYS = ("accuracy", "cost")


class _Problems(list):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")

    def unknown_keys(self, obj: dict, known: tuple[str, ...], where: str) -> None:
        for key in obj:
            if key not in known:
                self.add(f"{where}{key}", did_you_mean(str(key), known, "key") + "; remove or rename it")


def _int(p: _Problems, value: Any, where: str, *, low: int, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        p.add(where, f"must be an integer >= {low}, but got {value!r}")
        return None
    return value


def _str(p: _Problems, value: Any, where: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(where, f"must be a non-empty string, but got {value!r}")
        return None
    return value


def parse_spec(raw: dict, where: str = "<dict>") -> SweepSpec:
    """Validate ``raw`` (a YAML mapping) into a :class:`SweepSpec`; raise :class:`SpecError` listing
    every problem."""
    p = _Problems()
    p.unknown_keys(raw, TOP_KEYS, "")
    name = _str(p, raw.get("name", "sweep"), "name", optional=False) or "sweep"
    model = _model(p, raw.get("model"))
    dataset = _dataset(p, raw.get("dataset"))
    train = _train(p, raw.get("train") or {})
    adapters = _adapters(p, raw.get("adapters"), model, train.lr is not None)
    budget = _budget(p, raw.get("budget"))
    objectives = _objectives(p, raw.get("objectives") or {})
    n_trials = _int(p, raw.get("n_trials"), "n_trials", low=1)
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        p.add("timeout", f"must be a number of seconds > 0, but got {timeout!r}")
        timeout = None
    if raw.get("n_trials") is None and raw.get("timeout") is None and raw.get("sampler") != "grid":
        p.add("n_trials", "set n_trials or timeout (both are empty); e.g. n_trials: 20")
    sampler = raw.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        p.add("sampler", did_you_mean(str(sampler), SAMPLERS, "sampler"))
    seed = _int(p, raw.get("seed", 0), "seed", low=0, optional=False) or 0
    storage = _str(p, raw.get("storage"), "storage")
    if storage is not None and "://" not in storage:
        p.add("storage", f"must be an RDB URL like sqlite:///sweep.db or postgresql://user@host/db, "
                         f"but got {storage!r}")
    study = _str(p, raw.get("study"), "study")
    run_dir = _str(p, raw.get("run_dir"), "run_dir")
    execution = parse_execution(raw.get("execution"), p.add)
    family = _str(p, raw.get("family"), "family")
    if n_trials is not None and adapters and n_trials < len(adapters):
        p.add("n_trials", f"n_trials >= number of adapters must hold so each is tried once, "
                          f"but got (n_trials={n_trials}, adapters={len(adapters)}); raise n_trials")
    if sampler == "grid" and adapters:
        _check_grid(p, adapters, train)
    prompt_template = _str(p, raw.get("prompt_template"), "prompt_template")
    image_size = _int(p, raw.get("image_size"), "image_size", low=1)
    max_pixels = _int(p, raw.get("max_pixels"), "max_pixels", low=1)
    if image_size is not None and max_pixels is not None:
        p.add("max_pixels", "give image_size or max_pixels, not both")
    if p:
        raise SpecError(where, p)
    return SweepSpec(name=name, model=model, dataset=dataset, adapters=tuple(adapters), budget=budget,
                     train=train, objectives=objectives, n_trials=n_trials,
                     timeout=float(timeout) if timeout is not None else None, sampler=sampler, seed=seed,
                     storage=storage, study=study, run_dir=run_dir, prompt_template=prompt_template,
                     image_size=image_size, max_pixels=max_pixels, execution=execution, source=where,
                     family=family)


def _model(p: _Problems, value: Any) -> str:
    name = _str(p, value, "model", optional=False)
    if name is None:
        return ""
    from pefomed.models.registry import _ensure_builtin_models, _looks_like_hub_id, list_models

    _ensure_builtin_models()
    if name in list_models() or Path(name).expanduser().is_dir() or _looks_like_hub_id(name):
        return name
    p.add("model", did_you_mean(name, list_models(), "model") + " (or a local folder, or a hub id org/name)")
    return name


def _dataset(p: _Problems, value: Any) -> DatasetSpec:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        p.add("dataset", f"must be a name or a mapping with name:, but got {value!r}; e.g. dataset: synth-rad")
        return DatasetSpec(name="")
    p.unknown_keys(value, DATASET_KEYS, "dataset.")
    name = _str(p, value.get("name"), "dataset.name", optional=False) or ""
    if name:
        from pefomed.data import list_datasets

        known = list_datasets()
        if name not in known and not Path(name).expanduser().exists():
            p.add("dataset.name", did_you_mean(name, known, "dataset") + " (or a path to a data folder)")
    options = value.get("options") or {}
    if not isinstance(options, dict):
        p.add("dataset.options", f"must be a mapping, but got {options!r}")
        options = {}
    splits = {k: _str(p, value.get(k, d), f"dataset.{k}", optional=False) or d
              for k, d in (("train_split", "train"), ("search_split", "validation"), ("report_split", "test"))}
    if name:
        from pefomed.data import get_dataset, list_datasets

        if name in list_datasets():
            known_splits = get_dataset(name).splits
            for key, split in splits.items():
                if split not in known_splits:
                    p.add(f"dataset.{key}", did_you_mean(split, known_splits, f"{name} split"))
    if splits["train_split"] == splits["search_split"]:
        p.add("dataset.search_split", f"must differ from train_split (trials are scored on held-out data), "
                                      f"but both are {splits['search_split']!r}")
    if splits["search_split"] == splits["report_split"]:
        p.add("dataset.report_split", f"must differ from search_split (the report split is held out), "
                                      f"but both are {splits['report_split']!r}")
    limits = {k: _int(p, value.get(k), f"dataset.{k}", low=1)
              for k in ("train_limit", "eval_limit", "report_limit")}
    fields_map = value.get("fields")
    if fields_map is not None and not isinstance(fields_map, dict):
        p.add("dataset.fields", f"must be a mapping like {{image: img_path}}, but got {fields_map!r}")
        fields_map = None
    policy = value.get("on_bad_record")
    if policy is not None and policy not in ("error", "skip"):
        p.add("dataset.on_bad_record", did_you_mean(str(policy), ("error", "skip"), "on_bad_record policy"))
        policy = None
    return DatasetSpec(name=name, root=_str(p, value.get("root"), "dataset.root"), options=options,
                       **splits, **limits, fields=fields_map, language=_str(p, value.get("language"), "dataset.language"),
                       on_bad_record=policy)


def _adapters(p: _Problems, value: Any, model: str, global_lr: bool) -> list[AdapterSpec]:
    if not isinstance(value, list) or not value:
        p.add("adapters", f"must be a non-empty list of adapter names or mappings, but got {value!r}; "
                          "e.g. adapters: [lora, ia3, frozen]")
        return []
    from pefomed.adapters import get_adapter, list_adapters

    known = list_adapters()
    unsupported = _unsupported(model)
    out: list[AdapterSpec] = []
    for i, item in enumerate(value):
        where = f"adapters[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            p.add(where, f"must be an adapter name or a mapping with name:, but got {item!r}")
            continue
        p.unknown_keys(item, ADAPTER_KEYS, f"{where}.")
        name = _str(p, item.get("name"), f"{where}.name", optional=False)
        if name is None:
            continue
        if name not in known:
            p.add(f"{where}.name", did_you_mean(name, known, "adapter"))
            continue
        if name in unsupported:
            p.add(f"{where}.name", f"{name!r} cannot run on {model!r}: {unsupported[name]}; remove it")
        out.append(_adapter(p, item, get_adapter(name), where, global_lr))
    labels = [a.label for a in out]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        p.add("adapters", f"label {label!r} appears {labels.count(label)} times; give each repeat "
                          f"a distinct label: (e.g. label: {label}-vision)")
    return out


def _unsupported(model: str) -> dict[str, str]:
    from pefomed.models.registry import MODELS, get_family

    if model not in MODELS:
        return {}
    return dict(getattr(get_family(MODELS.get(model).family), "unsupported", {}) or {})


def _adapter(p: _Problems, item: dict, entry: Any, where: str, global_lr: bool) -> AdapterSpec:
    from pefomed.models.base import LAYER_KINDS, PARTS

    name = entry.name
    label = _str(p, item.get("label", name), f"{where}.label", optional=False) or name
    catalogue_space = {k: hyperparam_from(v) for k, v in (entry.search_space or {}).items()}
    known = sorted(set(entry.defaults or {}) | set(catalogue_space) | set(TRAIN_PARAMS))
    settings = item.get("settings") or {}
    if not isinstance(settings, dict):
        p.add(f"{where}.settings", f"must be a mapping of fixed settings, but got {settings!r}")
        settings = {}
    for key in settings:
        if key not in known:
            p.add(f"{where}.settings.{key}", did_you_mean(key, known, f"{name} setting"))
    _fixed_settings(p, entry, {k: v for k, v in settings.items() if k in known}, f"{where}.settings")
    parts = item.get("parts")
    if parts is not None:
        parts = [parts] if isinstance(parts, str) else parts
        allowed = tuple(getattr(entry, "parts", None) or PARTS)
        if not isinstance(parts, list) or not parts:
            p.add(f"{where}.parts", f"must be a list drawn from {', '.join(PARTS)}, but got {parts!r}")
            parts = None
        else:
            for part in parts:
                if part not in allowed:
                    p.add(f"{where}.parts", did_you_mean(str(part), allowed, f"part for {name}"))
            parts = tuple(parts)
    layers = item.get("layers")
    if layers is not None and layers not in LAYER_KINDS:
        p.add(f"{where}.layers", did_you_mean(str(layers), LAYER_KINDS, "layer kind"))
    train_projector = item.get("train_projector", False)
    if not isinstance(train_projector, bool):
        p.add(f"{where}.train_projector", f"must be true or false, but got {train_projector!r}")
    space = _space(p, item.get("search_space") or {}, catalogue_space, known, f"{where}.search_space")
    for key in settings:
        space.pop(key, None)
    if global_lr and LR not in (item.get("search_space") or {}):
        space.pop(LR, None)  # the spec's train.lr replaces the catalogue's range
    return AdapterSpec(name=name, label=label, settings=dict(settings), parts=parts, layers=layers,
                       train_projector=bool(train_projector), search_space=space)


def _fixed_settings(p: _Problems, entry: Any, settings: dict, where: str) -> None:
    """Fixed settings obey the method's own rules now, not in the first trial that uses them."""
    from pefomed.adapters.params import check_settings
    from pefomed.errors import PefomedError

    method = {k: v for k, v in settings.items() if k not in TRAIN_PARAMS}
    broken = False
    for key, value in method.items():
        for problem in check_settings(entry.params, {key: value}, entry.name)[1]:
            p.add(f"{where}.{key}", problem)
            broken = True
    lr = settings.get(LR)
    if LR in settings and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0):
        p.add(f"{where}.{LR}", f"must be a number > 0, but got {lr!r}")
    if not broken:
        try:
            entry.resolve_settings(method)  # rules between settings (AdaLoRA target_r <= init_r, ...)
        except PefomedError as exc:
            p.add(where, str(exc))


def _space(p: _Problems, overrides: Any, base: dict[str, HyperParam], known: list[str],
           where: str) -> dict[str, HyperParam]:
    space = dict(base)
    if not isinstance(overrides, dict):
        p.add(where, f"must be a mapping of name -> {{type, low, high, log, step, choices}}, but got {overrides!r}")
        return space
    for key, spec in overrides.items():
        if key not in known:
            p.add(f"{where}.{key}", did_you_mean(key, known, "hyperparameter"))
            continue
        if spec is None:  # remove from the search: the catalogue default is used
            space.pop(key, None)
            continue
        if isinstance(spec, list):
            spec = {"type": "categorical", "choices": spec}
        if not isinstance(spec, dict):
            p.add(f"{where}.{key}", f"must be a mapping like {{type: int, low: 2, high: 16}} or a list of "
                                    f"choices, but got {spec!r}")
            continue
        for bad in unknown_fields(spec):
            p.add(f"{where}.{key}.{bad}", did_you_mean(bad, ("type", "low", "high", "log", "step", "choices"),
                                                       "hyperparameter field"))
        if "type" not in spec:
            problem = _untyped(key, spec, base.get(key))
            if problem:
                p.add(f"{where}.{key}", problem)
                continue
        same_type = key in base and spec.get("type", base[key].type) == base[key].type
        merged = dict(base[key].to_dict()) if same_type else {}
        merged.update({k: v for k, v in spec.items() if k in ("type", "low", "high", "log", "step", "choices")})
        hp = hyperparam_from(merged)
        for problem in hp.problems():
            p.add(f"{where}.{key}", problem)
        space[key] = hp
    return space


def _untyped(key: str, spec: dict, inherited: HyperParam | None) -> str | None:
    """Why an entry without ``type:`` cannot be read, or None when it fits the catalogue's type."""
    example = f"{key}: {{type: int, low: 2, high: 16}}"
    ranged = sorted(set(spec) & {"low", "high", "log", "step"})
    if inherited is None and key == LR:
        return None  # a learning rate is a float range by nature
    if inherited is None and "choices" in spec and not ranged:
        return None  # choices alone can only mean categorical
    if inherited is None:
        return (f"has no type: and there is no catalogue range for {key} to take one from; "
                f"write type: float, int or categorical, e.g. {example}")
    if inherited.type == "categorical" and ranged:
        return (f"has {', '.join(ranged)} but no type:, and the catalogue's {key} is categorical "
                f"(choices {list(inherited.choices or ())}), so they would be ignored; add type: int "
                f"or float to search a range ({example}), or give choices:")
    if inherited.type != "categorical" and "choices" in spec:
        return (f"has choices but no type:, and the catalogue's {key} is a {inherited.type} range, so "
                f"they would be ignored; add type: categorical")
    return None


def _budget(p: _Problems, value: Any) -> dict:
    from dataclasses import fields

    from pefomed.errors import PefomedError
    from pefomed.train.budget import Budget

    if not isinstance(value, dict) or not value:
        p.add("budget", f"must be a mapping with at least one limit, but got {value!r}; "
                        "e.g. budget: {max_steps: 30}")
        return {}
    known = tuple(f.name for f in fields(Budget))
    p.unknown_keys(value, known, "budget.")
    clean = {k: v for k, v in value.items() if k in known}
    try:
        Budget(**clean)
    except PefomedError as exc:
        p.add("budget", str(exc).removeprefix("invalid Budget: "))
    return clean


def _train(p: _Problems, value: Any) -> TrainSpec:
    from dataclasses import fields

    from pefomed.errors import PefomedError
    from pefomed.train.loop import TrainConfig

    if not isinstance(value, dict):
        p.add("train", f"must be a mapping, but got {value!r}; e.g. train: {{lr: 1e-3, batch_size: 8}}")
        return TrainSpec()
    extra = tuple(f.name for f in fields(TrainConfig) if f.name not in ("lr", "batch_size", "seed"))
    p.unknown_keys(value, ("lr", "batch_size") + extra, "train.")
    lr = value.get("lr")
    if isinstance(lr, (dict, list)):
        lr = hyperparam_from({"type": "categorical", "choices": lr} if isinstance(lr, list)
                             else {"type": "float", **lr})
        for problem in lr.problems():
            p.add("train.lr", problem)
    elif lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0):
        p.add("train.lr", f"must be a number > 0 or a range {{low, high, log}}, but got {lr!r}")
    batch_size = _int(p, value.get("batch_size", 8), "train.batch_size", low=1, optional=False) or 8
    options = {k: v for k, v in value.items() if k in extra}
    try:
        TrainConfig(batch_size=batch_size, **options)
    except PefomedError as exc:
        p.add("train", f"{exc}; fix the train: settings")
    except TypeError as exc:
        p.add("train", f"{exc}")
    else:
        from pefomed.train.inputs import check_device

        try:
            check_device(options.get("device", "auto"))  # every trial would fail on it
        except PefomedError as exc:
            p.add("train.device", str(exc))
    return TrainSpec(lr=float(lr) if isinstance(lr, (int, float)) else lr, batch_size=batch_size,
                     options=options)


def _objectives(p: _Problems, value: Any) -> ObjectiveSpec:
    if not isinstance(value, dict):
        p.add("objectives", f"must be a mapping {{accuracy: PROTOCOL, cost: NAME}}, but got {value!r}")
        return ObjectiveSpec()
    p.unknown_keys(value, OBJECTIVE_KEYS, "objectives.")
    from pefomed.evaluation import PROTOCOLS

    accuracy = value.get("accuracy", ObjectiveSpec.accuracy)
    if accuracy not in PROTOCOLS:
        p.add("objectives.accuracy", did_you_mean(str(accuracy), PROTOCOLS.names(), "evaluation protocol"))
    cost = value.get("cost", ObjectiveSpec.cost)
    if cost not in COST_NAMES:
        p.add("objectives.cost", did_you_mean(str(cost), COST_NAMES, "cost"))
    return ObjectiveSpec(accuracy=str(accuracy), cost=str(cost))


def _check_grid(p: _Problems, adapters: list[AdapterSpec], train: TrainSpec) -> None:
    from pefomed.sweep.space import method_space

    for a in adapters:
        for key, hp in method_space(a, train).items():
            if hp.grid() is None:
                p.add(f"search_space {a.label}.{key}", "sampler grid needs a finite space, but this float "
                      "range has no step; give choices: [...] or a step")
