"""Tiny models and a few in-memory Med-VQA records for the training tests."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pefomed.data.record import VQARecord

QA = [("is there a mass?", "yes", "closed"), ("what organ is shown?", "liver", "open"),
      ("how many lesions are there?", "two", "open"), ("is this an axial view?", "no", "closed")]


def make_records(n: int = 8, seed: int = 0, images: int = 5) -> list[VQARecord]:
    """``n`` records over ``images`` distinct random images (several questions per image)."""
    rng = np.random.default_rng(seed)
    pixels = [Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)) for _ in range(images)]
    out = []
    for i in range(n):
        q, a, kind = QA[i % len(QA)]
        out.append(VQARecord(id=f"r{i}", question=q, answer=a, answer_type=kind,
                             image=pixels[i % images], image_id=f"img{i % images}", organ="liver"))
    return out


def make_adapted(method: str = "lora", *, seed: int = 0, **kwargs):
    """tiny-llava with ``method`` injected (language attention by default), built from ``seed``."""
    import torch

    from pefomed.adapters import inject
    from pefomed.models.registry import create_model

    bundle = create_model("tiny-llava", seed=seed)
    torch.manual_seed(seed)
    kwargs.setdefault("parts", ("language",))
    kwargs.setdefault("layers", "attention")
    return inject(bundle, method, **kwargs)


@pytest.fixture
def records() -> list[VQARecord]:
    return make_records()
