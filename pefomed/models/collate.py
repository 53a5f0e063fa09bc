"""Batching of per-record model inputs: each record is encoded once, batches are padded from rows.

A *row* is what ``family.encode(bundle, [image], [question], [answer])`` returns for one record
(batch dimension 1). :func:`collate_rows` stacks rows into the batch the processor would have
produced for the same records with right padding: tensors are padded at the end of every
dimension but the first, then concatenated along it (token ids with the pad id, labels with
-100, masks, type ids and padding crops with 0). Families whose inputs do not follow that rule
override :meth:`~pefomed.models.base.Family.collate` (Qwen recomputes its M-RoPE positions).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
#: keys padded with the tokenizer's pad id (every other key pads with 0, labels with -100)
TOKEN_KEYS: tuple[str, ...] = ("input_ids", "decoder_input_ids")
#: row keys that only the vision tower reads; dropped once an image's features are cached
PIXEL_PREFIX = "pixel_"


def is_pixel_key(key: str) -> bool:
    return key.startswith(PIXEL_PREFIX)


def collate_rows(rows: list[dict[str, Any]], pad_token_id: int | None,
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """One right-padded batch from per-record rows (see the module docstring); ``skip`` keys are left out."""
    if not rows:
        raise ValueError("collate_rows needs at least one row")
    batch: dict[str, Any] = {}
    for key in rows[0]:
        if key in skip:
            continue
        values = [row[key] for row in rows]
        if not isinstance(values[0], torch.Tensor):
            batch[key] = values[0]
            continue
        if key in TOKEN_KEYS:
            fill = pad_token_id if pad_token_id is not None else 0
        else:
            fill = IGNORE_INDEX if key == "labels" and not values[0].is_floating_point() else 0
        batch[key] = torch.cat(_pad_to_common(values, fill))
    return batch


def _pad_to_common(values: list[torch.Tensor], fill: float) -> list[torch.Tensor]:
    target = [max(v.shape[d] for v in values) for d in range(values[0].dim())]
    out = []
    for v in values:
        pad: list[int] = []
        for d in reversed(range(1, v.dim())):  # F.pad lists the last dimension first
            pad += [0, target[d] - v.shape[d]]
        out.append(F.pad(v, pad, value=fill) if any(pad) else v)
    return out
