"""Shared inputs for the model-family tests: every registered tiny model, two images, Q&A."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pefomed.models.registry import _ensure_builtin_models, create_model, list_models

_ensure_builtin_models()
TINY = list_models(tiny_only=True)
QUESTIONS = ["is there a mass?", "what organ is shown?"]
ANSWERS = ["yes", "liver"]


def make_images(seed: int = 0) -> list[Image.Image]:
    """A square and a wide image (families that keep aspect ratio see different sizes)."""
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)),
            Image.fromarray(rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))]


def forward(model, inputs: dict) -> object:
    """``model(**inputs)`` without grad, reseeded: ViLT draws a random patch order every forward."""
    torch.manual_seed(0)
    with torch.no_grad():
        return model(**inputs)


def output_tensor(out) -> torch.Tensor:
    """Logits, or the loss where a model returns none (BLIP VQA)."""
    return out.logits if getattr(out, "logits", None) is not None else out.loss


@pytest.fixture
def images() -> list[Image.Image]:
    return make_images()


@pytest.fixture(params=TINY)
def bundle(request):
    return create_model(request.param)
