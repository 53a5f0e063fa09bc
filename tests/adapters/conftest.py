"""Shared helpers for the adapter tests: the tiny models, one small batch, comparable outputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import pefomed.models.families  # noqa: F401  (registers every family and tiny model)
from pefomed.models.base import ModelBundle
from pefomed.models.registry import create_model, list_models

TINY_MODELS = list_models(tiny_only=True)
QUESTIONS = ["is there a mass?", "what organ is shown?"]
ANSWERS = ["yes", "no"]


def make_batch(bundle: ModelBundle, answers: list[str] | None = ANSWERS) -> dict[str, torch.Tensor]:
    """Two seeded 32x32 images with questions (and answers: labels on answer tokens only)."""
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in QUESTIONS]
    return bundle.family.encode(bundle, images, QUESTIONS, answers)


@torch.no_grad()
def outputs(model: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
    """Every tensor the forward returns (logits, loss, hidden states...), by name."""
    out = model(**batch)
    return {k: v.detach().float() for k, v in out.items() if isinstance(v, torch.Tensor)}


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest relative (Frobenius) difference over the output tensors."""
    return max(((a[k] - b[k]).norm() / b[k].norm().clamp_min(1e-12)).item() for k in a)


@pytest.fixture
def llava() -> ModelBundle:
    return create_model("tiny-llava", seed=0)
