"""``inject``: apply one adapter method to a model, refusing unsupported combinations up front."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pefomed.adapters.catalogue import AdapterMethod, get_adapter
from pefomed.adapters.handle import AdaptedModel, Request
from pefomed.adapters.params import raise_if
from pefomed.adapters.sizes import check_sizes
from pefomed.adapters.targets import present_parts
from pefomed.errors import PefomedError, UnsupportedError, did_you_mean
from pefomed.models.base import LAYER_KINDS, PARTS, ModelBundle

DEFAULT_LAYERS = "attention"
MARK = "_pefomed_adapter"  # set on the transformers model once adapted


def inject(bundle: ModelBundle, method: str, *, parts: Iterable[str] | str = ("language",),
           layers: str = DEFAULT_LAYERS, settings: dict[str, Any] | None = None,
           train_projector: bool = False) -> AdaptedModel:
    """Apply ``method`` to ``parts`` of ``bundle``'s model; ``bundle.model`` becomes the adapted model.

    ``layers`` picks the Linear layers of those parts ("attention", "mlp", "all-linear": every
    Linear except heads) for methods that adapt layers. ``settings`` override the method's
    defaults (adapters/<method>.yaml). ``train_projector`` trains the projector fully and saves it
    with the adapter; a classifying family's output head (ViLT) always trains, except with
    ``frozen``. Bad input raises PefomedError; combinations that cannot work raise
    UnsupportedError, both before anything is changed. Call on a freshly built model: the
    model is changed in place and ``bundle.model`` becomes the adapted (e.g. peft) model.
    """
    require_bundle(bundle, "inject")
    if not isinstance(method, str):
        raise PefomedError(f"inject needs an adapter method name, but got {method!r}; e.g. inject(bundle, 'lora') "
                           "(see `pefomed ls adapters`)")
    entry = get_adapter(method)
    request = make_request(entry, parts, layers, settings, train_projector)
    check_supported(bundle, entry, request)
    check_sizes(bundle, entry, request)
    adapted = entry.build(bundle, request)
    setattr(adapted.base, MARK, entry.name)
    return adapted


def require_bundle(bundle: Any, where: str) -> None:
    """Refuse anything but a :class:`ModelBundle` (a model *name* is the usual mistake)."""
    if not isinstance(bundle, ModelBundle):
        hint = f"create_model({bundle!r})" if isinstance(bundle, str) else "create_model('tiny-llava')"
        raise PefomedError(f"{where} needs the ModelBundle that create_model() returns, but got "
                           f"{type(bundle).__name__} {bundle!r:.60}; pass {hint} instead")


def make_request(entry: AdapterMethod, parts: Iterable[str] | str, layers: str | None,
                 settings: dict[str, Any] | None, train_projector: bool) -> Request:
    """Validate the arguments of :func:`inject`; every problem is reported at once."""
    errors: list[str] = []
    parts = tuple(p.strip() for p in parts.split(",")) if isinstance(parts, str) else tuple(parts)
    if not parts:
        errors.append(f"parts must name at least one of {', '.join(PARTS)}")
    errors += [did_you_mean(str(p), PARTS, "part") for p in parts if p not in PARTS]
    if layers not in LAYER_KINDS:
        errors.append(did_you_mean(str(layers), LAYER_KINDS, "layer kind"))
    if not isinstance(train_projector, bool):
        errors.append(f"train_projector must be true or false, but got {train_projector!r}")
    if settings is not None and not isinstance(settings, dict):
        errors.append(f"settings must be a dict of name -> value, but got {settings!r}")
        settings = None
    try:
        resolved = entry.resolve_settings(settings)
    except PefomedError as exc:
        errors.append(str(exc))
        resolved = {}
    raise_if(errors, f"cannot inject {entry.name}")
    if not entry.uses_layers:
        if layers != DEFAULT_LAYERS:
            raise UnsupportedError(f"{entry.name} does not select layers by kind, so layers={layers!r} "
                                   f"means nothing for it; leave layers at its default")
        layers = None
    ordered = tuple(p for p in PARTS if p in parts)
    return Request(parts=ordered, layers=layers, settings=resolved, train_projector=train_projector)


def check_supported(bundle: ModelBundle, entry: AdapterMethod, request: Request) -> None:
    """Refuse, with one line, what cannot work: raises UnsupportedError (or PefomedError)."""
    from pefomed.models.base import hf_model

    family, name = bundle.family, entry.name
    base = hf_model(bundle.model)
    if getattr(base, MARK, None) is not None or base is not bundle.model:
        raise PefomedError(f"{bundle.name} already carries an adapter ({getattr(base, MARK, 'peft')}); "
                           "build a fresh model with create_model() before injecting another")
    reason = family.unsupported.get(name)
    if reason:
        raise UnsupportedError(f"{name} is not supported on {bundle.name} (family {family.name}): {reason}")
    present = present_parts(bundle)
    for part in request.parts:
        if part not in entry.parts:
            why = entry.parts_reason or f"adapters/{name}.yaml allows parts {', '.join(entry.parts)}"
            raise UnsupportedError(f"{name} cannot target the {part} part: {why}")
        if not present[part]:
            having = ", ".join(p for p in PARTS if present[p])
            raise UnsupportedError(f"{bundle.name} (family {family.name}) has no {part} part; "
                                   f"choose parts from {having}")
        why = (family.untargetable(name, part) if entry.targets_linear
               else family.untargetable_parts.get(name, {}).get(part))
        if why:
            raise UnsupportedError(f"{name} cannot target the {part} part of {bundle.name}: {why}")
    _check_projector(bundle, entry, request, present)


def _check_projector(bundle: ModelBundle, entry: AdapterMethod, request: Request, present: dict) -> None:
    if not request.train_projector:
        return
    if entry.name == "frozen":
        raise UnsupportedError("frozen trains nothing, so it cannot train the projector; use method "
                               "'full' with parts=('projector',) to train only the projector")
    if not present["projector"]:
        raise UnsupportedError(f"{bundle.name} (family {bundle.family.name}) has no projector to train; "
                               "drop train_projector")
    if "projector" in request.parts and entry.name != "full":
        raise UnsupportedError(f"train_projector trains the whole projector, so {entry.name} cannot also adapt "
                               "it; drop 'projector' from parts or drop train_projector")
