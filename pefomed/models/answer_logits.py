"""Answer-only logits: apply the output layer only where the next token is a label.

The training loss reads the logits of the positions whose *next* token is an answer token; the
prompt and image positions need none. On a 32k vocabulary the full-sequence logits of a batch
are hundreds of MB (and their gradient as much again), so the output layer (``lm_head``) gets a
forward pre-hook that gathers the hidden states at those positions before it runs. The head is
per token (a Linear, or BLIP's transform + LayerNorm + Linear), so its output at the gathered
positions equals the full logits there. Prompt tuning prepends virtual tokens: they show up as
extra leading positions, which the hook skips.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

IGNORE_INDEX = -100


def answer_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rows, positions, targets)``: where the next token is a label, and that label."""
    shifted = labels[:, 1:]
    rows, cols = (shifted != IGNORE_INDEX).nonzero(as_tuple=True)
    return rows, cols, shifted[rows, cols]


@contextlib.contextmanager
def gather_head_inputs(head: nn.Module, rows: torch.Tensor | None, positions: torch.Tensor | None,
                       seq_len: int) -> Iterator[dict[str, Any]]:
    """While active, ``head`` sees only the hidden states at ``(rows, positions)``.

    Its output, kept as ``state["logits"]`` (shape ``(1, len(rows), vocab)``), is what the loss
    reads: some models (BLIP VQA) never return their logits. With ``rows=None`` nothing is
    gathered and the full logits are kept (the reference path). ``seq_len`` is the label
    length: a longer hidden sequence carries leading virtual tokens (prompt tuning).
    ``state["calls"]`` counts the head's calls; anything but one means the model did not use
    ``head`` the way this assumes, and the caller must not trust the result.
    """
    state: dict[str, Any] = {"calls": 0, "logits": None}

    def pre_hook(module: nn.Module, args: tuple) -> tuple | None:
        hidden = args[0]
        state["calls"] += 1
        offset = hidden.shape[1] - seq_len if hidden.dim() == 3 else -1
        too_few_rows = rows is not None and rows.numel() > 0 and hidden.shape[0] <= int(rows.max())
        if offset < 0 or too_few_rows:
            raise RuntimeError(f"the output layer got hidden states of shape {tuple(hidden.shape)}, "
                               f"not (batch, >= {seq_len}, width); answer-only logits cannot apply")
        if rows is None:
            state["offset"] = offset
            return None
        picked = hidden[rows.to(hidden.device), positions.to(hidden.device) + offset]
        return (picked.unsqueeze(0), *args[1:])

    def post_hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        state["logits"] = output

    handles = [head.register_forward_pre_hook(pre_hook), head.register_forward_hook(post_hook)]
    try:
        yield state
    finally:
        for handle in handles:
            handle.remove()
