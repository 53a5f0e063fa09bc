"""``AdaptedModel``: one handle over an adapted model, whatever the method (peft or native)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from pefomed.errors import PefomedError, UnsupportedError
from pefomed.models.base import PARTS, ModelBundle

if TYPE_CHECKING:
    from pefomed.adapters.catalogue import AdapterMethod

#: keys of :meth:`AdaptedModel.trainable_by_part` (``other``: parameters outside every part)
COUNT_KEYS = (*PARTS, "head", "other")


@dataclass(frozen=True)
class Request:
    """What :func:`~pefomed.adapters.inject` resolved: the validated arguments of one injection."""

    parts: tuple[str, ...]
    layers: str | None
    settings: dict[str, Any]
    train_projector: bool


@dataclass(eq=False)
class AdaptedModel:
    """A model with one adapter method applied.

    ``bundle.model`` is the module to train and call (a peft model for peft methods); ``base``
    is the transformers model inside it. ``state`` holds what the method needs later (sites of
    bottleneck adapters, quantized module names, ...).
    """

    bundle: ModelBundle
    entry: "AdapterMethod"
    request: Request
    base: nn.Module
    state: dict[str, Any] = field(default_factory=dict)
    merged: bool = False
    total_steps: int | None = None

    # --- what was asked -------------------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        return self.bundle.model

    @property
    def method(self) -> str:
        return self.entry.name

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.request.settings)

    @property
    def parts(self) -> tuple[str, ...]:
        return self.request.parts

    @property
    def layers(self) -> str | None:
        return self.request.layers

    @property
    def train_projector(self) -> bool:
        return self.request.train_projector

    @property
    def mergeable(self) -> bool:
        return self.entry.mergeable

    # --- parameters -----------------------------------------------------------------------
    def trainable_parameters(self) -> int:
        """Number of parameters that receive gradients."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def trainable_by_part(self) -> dict[str, int]:
        """Trainable parameters per part (vision, projector, language, head, other).

        Parameters that live outside the transformers model (peft's prompt encoder: virtual
        tokens and prefixes) belong to the language model they feed, so they count as language.
        """
        names = {id(p): n for n, p in self.base.named_parameters(remove_duplicate=False)}
        counts = dict.fromkeys(COUNT_KEYS, 0)
        for p in self.model.parameters():  # tied weights count once
            if not p.requires_grad:
                continue
            name = names.get(id(p))
            part = "language" if name is None else (self.bundle.family.anatomy.part_of(name) or "other")
            counts[part] += p.numel()
        return counts

    def total_parameters(self) -> int:
        """All parameters (4-bit weights counted at their logical size), adapter included."""
        return sum(_logical_numel(p) for p in self.model.parameters())

    @property
    def vision_trainable(self) -> bool:
        """True if anything in (or before) the vision tower trains; if False, features may be cached."""
        return self.trainable_by_part()["vision"] > 0

    def touched_modules(self) -> list[str]:
        """Full names of the modules the method changed or made trainable."""
        return self.entry.touched(self)

    # --- training ---------------------------------------------------------------------------
    def prepare_for_training(self, total_steps: int) -> "AdaptedModel":
        """Put the model in training mode; methods with schedules (AdaLoRA) learn the total."""
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise PefomedError(f"total_steps >= 1 must hold, but got total_steps={total_steps!r}")
        if self.merged:
            raise PefomedError("the adapter is merged; call unmerge() before training")
        self.entry.prepare_for_training(self, total_steps)
        self.total_steps = total_steps
        self.model.train()
        return self

    def on_step(self, step: int) -> None:
        """Call after each optimizer step, *before* zeroing gradients (AdaLoRA reads them)."""
        self.entry.on_step(self, step)

    # --- merge ------------------------------------------------------------------------------
    def merge(self) -> None:
        """Fold the adapter into the base weights (faster inference); :meth:`unmerge` undoes it."""
        if not self.entry.mergeable:
            raise UnsupportedError(f"{self.method} cannot be merged: {self.entry.merge_reason}")
        if not self.merged:
            self.entry.merge(self)
            self.merged = True

    def unmerge(self) -> None:
        if not self.entry.mergeable:
            raise UnsupportedError(f"{self.method} cannot be merged: {self.entry.merge_reason}")
        if self.merged:
            self.entry.unmerge(self)
            self.merged = False

    # --- persistence ------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the adapter (peft format or safetensors) plus ``pefomed_adapter.json``."""
        from pefomed.adapters.persist import save_adapted

        return save_adapted(self, Path(folder))

    def adapter_bytes(self) -> int:
        """Bytes of the tensors :meth:`save` writes, from their shapes and dtypes (works on meta
        models: nothing is written). The files add a few KB of headers and JSON on top."""
        return sum(t.numel() * t.element_size() for t in self.entry.saved_tensors(self).values())

    def __repr__(self) -> str:
        return (f"AdaptedModel({self.method} on {self.bundle.name}, parts={self.parts}, layers={self.layers}, "
                f"trainable={self.trainable_parameters()})")


def _logical_numel(p: nn.Parameter) -> int:
    state = getattr(p, "quant_state", None)  # bitsandbytes Params4bit packs two weights per byte
    if state is not None and getattr(state, "shape", None) is not None:
        n = 1
        for d in state.shape:
            n *= int(d)
        return n
    return p.numel()
