"""Telling a diverging run from a bad one: it stops with ``diverged``, as a NaN loss does.

A huge learning rate (``--lr 1e6``) need not produce a NaN: the weights can blow up to finite
but meaningless values, the output collapses (a uniform distribution, empty answers) and the
run would end "ok". Two signals, both cheap, both far outside anything a healthy run shows:

- a trained parameter leaves the numeric range any weight lives in: non-finite, or a magnitude
  above ``MAX_WEIGHT`` (weights of trained models are O(1); fp16 overflows at 65504);
- the loss rises above ``LOSS_RATIO`` times the first step's loss and by more than
  ``LOSS_MARGIN`` nats, two steps in a row (noise on a small loss is not divergence).
"""
from __future__ import annotations

import math

import torch

MAX_WEIGHT = 1e4
LOSS_RATIO = 4.0
LOSS_MARGIN = 2.0


class DivergenceWatch:
    """``check(loss)`` after each optimizer step: ``"diverged"`` or None. ``why`` says which signal."""

    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.first: float | None = None
        self.high = 0
        self.why = ""

    def check(self, loss: float) -> str | None:
        if self.first is None:
            self.first = loss
        elif math.isfinite(loss) and loss > LOSS_RATIO * self.first and loss > self.first + LOSS_MARGIN:
            self.high += 1
            if self.high >= 2:
                self.why = (f"loss {loss:.4g} rose above {LOSS_RATIO:g}x the first step's "
                            f"{self.first:.4g} two steps in a row")
                return "diverged"
        else:
            self.high = 0
        peak = self._max_weight()
        if not math.isfinite(peak) or peak > MAX_WEIGHT:
            self.why = f"a trained weight reached |w| = {peak:.3g} (the bound is {MAX_WEIGHT:g})"
            return "diverged"
        return None

    @torch.no_grad()
    def _max_weight(self) -> float:
        if not self.params:
            return 0.0
        norms = torch._foreach_norm([p.detach() for p in self.params], float("inf"))
        return float(torch.stack([n.float().to(norms[0].device) for n in norms]).max())
