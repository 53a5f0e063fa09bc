"""Which modules a method touches, as FULL module names resolved from the family's anatomy.

Never bare leaf names: CLIP, SigLIP and Idefics vision towers reuse ``q_proj``/``v_proj``, so
``target_modules=["q_proj"]`` would silently adapt the vision tower as well.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from torch import nn

from pefomed.errors import UnsupportedError
from pefomed.models.base import ModelBundle

if TYPE_CHECKING:
    from pefomed.adapters.handle import Request

#: nn.Linear also covers bitsandbytes' Linear4bit (a subclass).
_LINEAR_CLASS_NAMES = ("Conv1D",)  # transformers' GPT-2 style linear


def is_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ in _LINEAR_CLASS_NAMES


def is_norm(module: nn.Module) -> bool:
    """LayerNorm, RMSNorm and GroupNorm variants, by class (every family names its own RMSNorm)."""
    cls = type(module).__name__
    return isinstance(module, (nn.LayerNorm, nn.GroupNorm)) or cls.endswith(("LayerNorm", "RMSNorm"))


def modules_in_parts(bundle: ModelBundle, parts: Iterable[str],
                     model: nn.Module | None = None) -> list[tuple[str, nn.Module]]:
    """``(full name, module)`` of every module of ``model`` (default: ``bundle.model``, not yet
    wrapped by peft) whose anatomy part is one of ``parts``."""
    anatomy = bundle.family.anatomy
    wanted = set(parts)
    model = bundle.model if model is None else model
    return [(n, m) for n, m in model.named_modules() if n and anatomy.part_of(n) in wanted]


def linear_targets(bundle: ModelBundle, parts: Iterable[str], layers: str) -> list[str]:
    """Full names of the Linear layers of ``parts`` of kind ``layers`` ("all-linear": every kind).

    Heads (``anatomy.head``) never match: ``part_of`` puts them in the "head" part.
    """
    family = bundle.family
    return [n for n, m in modules_in_parts(bundle, parts)
            if is_linear(m) and (layers == "all-linear" or family.layer_kind(n) == layers)]


def norm_targets(bundle: ModelBundle, parts: Iterable[str]) -> list[str]:
    """Full names of the normalisation layers of ``parts``."""
    return [n for n, m in modules_in_parts(bundle, parts) if is_norm(m)]


def present_parts(bundle: ModelBundle) -> dict[str, bool]:
    """Whether the model holds at least one module under each part's prefixes."""
    anatomy = bundle.family.anatomy
    names = [n for n, _ in bundle.model.named_modules()] + [n for n, _ in bundle.model.named_parameters()]
    return {part: any(anatomy.part_of(n) == part for n in names) for part in ("vision", "projector", "language")}


def require_targets(targets: list[str], method: str, bundle: ModelBundle, parts: Iterable[str],
                    what: str, hint: str) -> list[str]:
    """Refuse an empty target list with a one-line UnsupportedError."""
    if not targets:
        raise UnsupportedError(
            f"{method} found no {what} in the {'/'.join(parts)} part(s) of {bundle.name}; {hint}"
        )
    return targets


def head_prefixes(bundle: ModelBundle) -> list[str]:
    """Full prefixes of the output heads that exist in the model."""
    names = {n for n, _ in bundle.model.named_modules()}
    return [h for h in bundle.family.anatomy.head if h in names]


def part_prefixes(bundle: ModelBundle, part: str) -> list[str]:
    """Full prefixes of ``part`` that exist in the model (modules or bare parameters)."""
    names = {n for n, _ in bundle.model.named_modules()} | {n for n, _ in bundle.model.named_parameters()}
    return [p for p in bundle.family.anatomy.prefixes(part) if p in names]


def extra_trainable(bundle: ModelBundle, request: "Request") -> list[str]:
    """Prefixes every method (but frozen) trains fully besides its adapter.

    The projector when ``train_projector`` is set, and the output head of classifying families
    (ViLT): its answer classes are the dataset's, so it starts untrained, as peft does for
    sequence classification.
    """
    prefixes = part_prefixes(bundle, "projector") if request.train_projector else []
    if bundle.family.task == "classify":
        prefixes += head_prefixes(bundle)
    return prefixes
