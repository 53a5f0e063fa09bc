"""Model registry: named builders (tiny test models, presets), plus loading by hub id or folder.

    @register_model("tiny-llava", family="llava", description="...")
    def tiny_llava(seed: int = 0) -> ModelBundle: ...

    create_model("tiny-llava")                   # a registered builder
    create_model("./my-llava-med")               # a local folder, family detected from config
    create_model("llava-hf/llava-1.5-7b-hf")     # a hub id (needs the network)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError, UnknownNameError, did_you_mean
from pefomed.models.base import Family, ModelBundle
from pefomed.registry import Registry

FAMILIES: Registry[Family] = Registry("model family")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    builder: Callable[..., ModelBundle]
    description: str
    tiny: bool
    #: multiplies the adapters' catalogue learning rates (tuned for billion-parameter models) when
    #: the user gives none: Adam's best learning rate grows as width shrinks (muP, Yang et al. 2022)
    lr_scale: float = 1.0
    #: a real checkpoint shipped as config.json only: builds on the meta device, needs ``hub_id`` to train
    config_only: bool = False
    hub_id: str | None = None


MODELS: Registry[ModelEntry] = Registry("model")


def register_family(cls: type[Family]) -> type[Family]:
    """Class decorator: instantiate and register a family under ``cls.name``."""
    FAMILIES.add(cls.name, cls())
    return cls


def register_model(name: str, *, family: str, description: str, tiny: bool = False,
                   lr_scale: float = 1.0) -> Callable:
    """Decorator registering a builder ``fn(seed=0, **kw) -> ModelBundle`` under ``name``."""

    def deco(fn: Callable[..., ModelBundle]) -> Callable[..., ModelBundle]:
        MODELS.add(name, ModelEntry(name, family, fn, description, tiny, lr_scale))
        return fn

    return deco


def list_models(tiny_only: bool = False) -> list[str]:
    """Registered model names, sorted."""
    _ensure_builtin_models()
    return [n for n, e in MODELS.items() if e.tiny or not tiny_only]


def default_learning_rate(model: str, method: str) -> float:
    """The learning rate to use when none is given: the method's catalogue default, scaled for
    registered small models (a folder or hub id gets the catalogue value as is)."""
    from pefomed.adapters import get_adapter

    _ensure_builtin_models()
    base = float(get_adapter(method).train_defaults.get("learning_rate", 2e-4))
    return base * (MODELS.get(model).lr_scale if model in MODELS else 1.0)


def get_family(name: str) -> Family:
    _ensure_builtin_models()
    return FAMILIES.get(name)


def detect_family(config: Any) -> Family:
    """The family whose ``model_types`` contains ``config.model_type``."""
    model_type = getattr(config, "model_type", None)
    for _, fam in FAMILIES.items():
        if model_type in fam.model_types:
            return fam
    known = sorted(t for _, f in FAMILIES.items() for t in f.model_types)
    raise PefomedError(
        f"no registered family handles model_type {model_type!r}; pass family=... "
        f"(one of {', '.join(FAMILIES.names())}) or use a model of type {', '.join(known)}"
    )


def create_model(name_or_path: str, *, family: str | None = None, seed: int = 0, weights: bool = True,
                 **kwargs: Any) -> ModelBundle:
    """Build a registered model, or load a checkpoint from a local folder or hub id.

    ``family`` overrides detection from the checkpoint's config. With ``weights=False`` the
    model is built on the meta device from its config alone (no weight file is read, no memory
    is allocated, no processor): enough to count parameters, inject adapters and plan memory.
    Config-only entries (``pefomed ls models``) can only be built that way.
    """
    _ensure_builtin_models()
    if not isinstance(name_or_path, (str, Path)) or not str(name_or_path).strip():
        raise PefomedError(f"create_model needs a registered model name, a local folder or a hub id, but got "
                           f"{name_or_path!r}; e.g. create_model('tiny-llava') (see `pefomed ls models`)")
    name_or_path = str(name_or_path)
    if family is not None:
        if not isinstance(family, str):
            raise PefomedError(f"create_model family= must be a family name, but got {family!r}; "
                               f"one of {', '.join(FAMILIES.names())}")
        check_family(name_or_path, family)  # unknown (did-you-mean), or not this registered model's
    if name_or_path in MODELS:
        entry = MODELS.get(name_or_path)
        if entry.config_only:
            return entry.builder(seed=seed, weights=weights, **kwargs)
        bundle = entry.builder(seed=seed, **kwargs)
        bundle.meta.setdefault("seed", seed)  # random-weight models are that seed: adapters record it
        if not weights:
            from pefomed.models.meta import to_meta

            bundle = to_meta(bundle)
        return bundle
    path = Path(name_or_path).expanduser()
    if not weights and (path.is_dir() or _looks_like_hub_id(name_or_path)):
        from pefomed.models.meta import empty_from_path

        return empty_from_path(str(path) if path.is_dir() else name_or_path, family=family)
    if path.is_dir() or _looks_like_hub_id(name_or_path):
        from pefomed.models.loading import load_pretrained

        return load_pretrained(name_or_path, family=family, **kwargs)
    raise UnknownNameError(
        did_you_mean(name_or_path, MODELS.names(), "model")
        + " (or give a local folder or a hub id like org/name)"
    )


def check_family(name_or_path: str, family: str | None) -> None:
    """Raise if ``family`` is unknown, or disagrees with a registered model's own family (cheap:
    call it before loading data)."""
    if family is None:
        return
    _ensure_builtin_models()
    get_family(family)  # did-you-mean for a typo
    if name_or_path in MODELS and MODELS.get(name_or_path).family != family:
        raise PefomedError(f"{name_or_path} is a registered {MODELS.get(name_or_path).family} model, so family "
                           f"{family!r} does not apply; drop the family, or give a checkpoint folder")


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def _ensure_builtin_models() -> None:
    import pefomed.models.families  # noqa: F401  (registers the built-in families)
    from pefomed.models.configs import register_shipped

    register_shipped()
