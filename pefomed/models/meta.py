"""Models without weights: build any config on the meta device (shapes only, no bytes).

``create_model(name, weights=False)`` lands here. A folder or hub id is read for its
``config.json`` only; a registered builder (tiny test models) is built and moved to ``meta``.
Nothing is read from or allocated for weight files, so a 7B model builds in about a second.
Tied weights (``tie_word_embeddings``) are tied explicitly: ``from_config`` under
:func:`accelerate.init_empty_weights` does not tie them, and an untied head would double-count
the vocabulary matrix.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle


def load_config(name_or_path: str) -> Any:
    """``AutoConfig`` of a folder with config.json or a hub id (cached or online)."""
    import transformers

    try:
        return transformers.AutoConfig.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as exc:
        raise PefomedError(
            f"cannot read a model config from {str(name_or_path)!r}: {str(exc).splitlines()[0]} "
            "(give a registered name, a folder with config.json, or a hub id while online)"
        ) from None


def build_empty(config: Any, *, family: str | None = None, name: str | None = None,
                source: str = "config") -> ModelBundle:
    """A :class:`ModelBundle` whose model lives on the meta device (no processor)."""
    import transformers
    from accelerate import init_empty_weights

    from pefomed.models.registry import _ensure_builtin_models, detect_family, get_family

    _ensure_builtin_models()
    fam = get_family(family) if family else detect_family(config)
    auto = getattr(transformers, fam.auto_class)
    with init_empty_weights(include_buffers=False):
        model = auto.from_config(config)
    model.tie_weights()
    model.eval()
    return ModelBundle(name=name or str(source), model=model, processor=None, family=fam, source=str(source),
                       meta={"weights": False})


def empty_from_path(name_or_path: str, *, family: str | None = None, name: str | None = None) -> ModelBundle:
    """Build a folder's or hub id's model from its config alone."""
    return build_empty(load_config(name_or_path), family=family, name=name or str(name_or_path),
                       source=str(name_or_path))


def to_meta(bundle: ModelBundle) -> ModelBundle:
    """Move a built bundle's weights to the meta device (frees their memory, keeps shapes)."""
    bundle.model = bundle.model.to(torch.device("meta"))
    bundle.meta = {**bundle.meta, "weights": False}
    return bundle


def is_meta(model: torch.nn.Module) -> bool:
    """True when the model's parameters have no storage (built with ``weights=False``)."""
    p = next(iter(model.parameters()), None)
    return p is not None and p.device.type == "meta"


def config_dir() -> Path:
    """The shipped real-checkpoint configs (``pefomed/assets/configs/<name>/config.json``)."""
    return Path(__file__).resolve().parent.parent / "assets" / "configs"
