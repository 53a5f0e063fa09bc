"""Shared helpers for the bottleneck tests: tiny models, inputs, and comparing outputs."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

import pefomed.models.families  # noqa: F401  (registers the built-in tiny models)
from pefomed.models.base import PARTS, ModelBundle
from pefomed.models.registry import create_model, list_models

TINY = list_models(tiny_only=True)
QUESTIONS = ["is there a fracture?", "what organ is shown?"]
ANSWERS = ["yes", "no"]


def build(name: str = "tiny-llava") -> ModelBundle:
    bundle = create_model(name, seed=0)
    bundle.model.eval()
    return bundle


def images(n: int = 2, size: int = 32) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


def inputs(bundle: ModelBundle) -> dict[str, torch.Tensor]:
    """A labelled batch (BLIP's forward needs labels; others ignore what they do not use)."""
    return bundle.family.encode(bundle, images(), QUESTIONS, ANSWERS)


def outputs(model: torch.nn.Module, batch: dict) -> list[torch.Tensor]:
    """Every tensor the forward returns (loss, logits, ...), in order.

    Seeded: ViLT samples image patches at random in every forward.
    """
    torch.manual_seed(0)
    with torch.no_grad():
        return tensors(model(**batch))


def tensors(out) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    values = out.values() if hasattr(out, "values") else out
    for v in values:
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, (tuple, list)):
            found.extend(tensors(v))
    return found


def scalar_loss(out) -> torch.Tensor:
    loss = getattr(out, "loss", None)
    return loss if loss is not None else tensors(out)[0].float().square().mean()


def all_parts_with_sites(bundle: ModelBundle, preset: str = "houlsby") -> tuple[str, ...]:
    from pefomed.adapters.bottleneck import select_bottleneck_sites
    from pefomed.errors import UnsupportedError

    parts = []
    for part in PARTS:
        try:
            select_bottleneck_sites(bundle, (part,), preset)
        except UnsupportedError:
            continue
        parts.append(part)
    return tuple(parts)
