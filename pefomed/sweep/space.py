"""The conditional search space: the adapter choice is a categorical, each method's own
hyperparameters are namespaced by its label (``lora.r``, ``lora.learning_rate``).

The learning rate is searched as ``<label>.learning_rate`` (the catalogue's name for it).
Precedence for a method: its own ``settings.learning_rate`` (fixed) or
``search_space.learning_rate`` in the spec > the spec's ``train.lr`` (fixed or range) > the
catalogue's per-method range > 1e-4..1e-2 (log).
Methods that train nothing (``frozen``) have no learning rate.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from pefomed.sweep.hparams import HyperParam
from pefomed.sweep.spec import DEFAULT_LR, LR, TRAIN_PARAMS, AdapterSpec, SweepSpec, TrainSpec

ADAPTER_PARAM = "adapter"
#: where an adapter goes when the spec does not say (as ``pefomed train``)
DEFAULT_PARTS = ("language",)
DEFAULT_LAYERS = "attention"
#: methods that train no parameter: their trial is a zero-shot evaluation of the base model
UNTRAINED = frozenset({"frozen"})


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial trains with: the method, its settings, where it goes, and the lr."""

    method: str
    label: str
    settings: dict = field(default_factory=dict)
    parts: tuple[str, ...] = DEFAULT_PARTS
    layers: str = DEFAULT_LAYERS
    train_projector: bool = False
    lr: float | None = None
    batch_size: int = 8

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with ``resolved_settings``: the catalogue defaults merged with the settings
        (what the adapter is really built with; None when the catalogue rejects them)."""
        d = asdict(self)
        d["parts"] = list(self.parts)
        d["resolved_settings"] = resolved_settings(self.method, self.settings)
        return d


def resolved_settings(method: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """Catalogue defaults <- preset <- ``settings`` for ``method`` (None if they are invalid)."""
    from pefomed.adapters import get_adapter
    from pefomed.errors import PefomedError

    try:
        return get_adapter(method).resolve_settings(dict(settings))
    except PefomedError:
        return None


def trains(method: str) -> bool:
    """Whether a method trains anything (``frozen`` does not, so it gets no learning rate)."""
    return method not in UNTRAINED


def method_space(adapter: AdapterSpec, train: TrainSpec) -> dict[str, HyperParam]:
    """The searchable hyperparameters of one method, by un-namespaced name."""
    space = dict(adapter.search_space)
    if not trains(adapter.name) or LR in adapter.settings:
        space.pop(LR, None)
    elif LR not in space and not isinstance(train.lr, float):
        space[LR] = train.lr if isinstance(train.lr, HyperParam) else DEFAULT_LR
    return space


def _suggest(trial: Any, name: str, hp: HyperParam) -> Any:
    if hp.type == "categorical":
        return trial.suggest_categorical(name, list(hp.choices or ()))
    if hp.type == "int":
        return trial.suggest_int(name, int(hp.low), int(hp.high), step=int(hp.step or 1), log=hp.log)
    return trial.suggest_float(name, float(hp.low), float(hp.high), step=hp.step, log=hp.log)


def suggest(trial: Any, spec: SweepSpec) -> TrialConfig:
    """Ask an Optuna trial for a method and its settings (fixed/enqueued params are honoured)."""
    label = trial.suggest_categorical(ADAPTER_PARAM, [a.label for a in spec.adapters])
    return config_from(spec, label, {key: _suggest(trial, f"{label}.{key}", hp)
                                     for key, hp in method_space(spec.adapter(label), spec.train).items()})


def config_from(spec: SweepSpec, label: str, values: dict[str, Any]) -> TrialConfig:
    """A :class:`TrialConfig` from a method label and its (un-namespaced) searched values."""
    a = spec.adapter(label)
    merged = {**a.settings, **values}
    lr = merged.pop(LR, None)
    if lr is None and trains(a.name) and isinstance(spec.train.lr, float):
        lr = spec.train.lr
    settings = {k: v for k, v in merged.items() if k not in TRAIN_PARAMS}
    return TrialConfig(method=a.name, label=label, settings=settings, parts=a.parts or DEFAULT_PARTS,
                       layers=a.layers or DEFAULT_LAYERS,
                       train_projector=a.train_projector, lr=float(lr) if lr is not None else None,
                       batch_size=spec.train.batch_size)


def _contains(hp: HyperParam, value: Any) -> bool:
    if hp.type == "categorical":
        return value in (hp.choices or ())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if hp.type == "int" and not float(value).is_integer():
        return False
    return hp.low <= value <= hp.high


def default_params(spec: SweepSpec, label: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """Namespaced params for a "catalogue defaults" trial of one method (enqueued first).

    Defaults outside the searched range are left out (the sampler picks them); the learning
    rate starts at the geometric middle of its range.
    """
    params: dict[str, Any] = {ADAPTER_PARAM: label}
    for key, hp in method_space(spec.adapter(label), spec.train).items():
        value = defaults.get(key)
        if key == LR and value is None and hp.type == "float":
            value = math.sqrt(hp.low * hp.high) if hp.log else (hp.low + hp.high) / 2
            value = _snap(hp, value)
        if value is not None and _contains(hp, value):
            params[f"{label}.{key}"] = value
    return params


def _snap(hp: HyperParam, value: float) -> float:
    if hp.step:
        return hp.low + round((value - hp.low) / hp.step) * hp.step
    return float(f"{value:.3g}")


def grid_params(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination, method by method (the spec validator made sure each space is finite)."""
    out = []
    for a in spec.adapters:
        space = method_space(a, spec.train)
        keys = sorted(space)
        for combo in itertools.product(*(space[k].grid() or [] for k in keys)):
            out.append({ADAPTER_PARAM: a.label, **{f"{a.label}.{k}": v for k, v in zip(keys, combo)}})
    return out


def values_of(params: dict[str, Any], label: str) -> dict[str, Any]:
    """The un-namespaced values of ``label`` in an Optuna params dict."""
    prefix = f"{label}."
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
