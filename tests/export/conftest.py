"""Tiny models with trained-looking adapters, saved the way users would save them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pefomed.adapters import inject
from pefomed.models.registry import create_model

QUESTIONS = ["is there a mass?", "what organ is shown?", "where is the lesion?"]


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> list[Path]:
    """Three seeded 32x32 PNG files."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(len(QUESTIONS)):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def perturb(adapted, seed: int = 1, scale: float = 0.3) -> None:
    """Move every trainable weight off its initial value, as training would (LoRA B starts at 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapted.model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=gen) * scale * (p.detach().std().clamp_min(0.1)))


def saved_adapter(model: str, method: str, folder: Path, **kwargs) -> Path:
    """``method`` injected into ``model``, perturbed and saved to ``folder``."""
    adapted = inject(create_model(model), method, **kwargs)
    perturb(adapted)
    adapted.save(folder)
    return folder
