"""Data-parallel training across processes (``torchrun`` / ``accelerate launch``), via accelerate.

Every process builds the same model from the same seed and walks the same shuffled order; each
global step's records are split into one contiguous shard per process (``batch_size`` is per
process, so 2 processes x batch B see what 1 process x batch 2B sees). After backward the
trainable gradients are averaged across processes (an all-reduce, as DDP does), so every process
takes the same optimizer step. Rank 0 alone writes the run folder, logs and evaluates; the stop
decision (budgets, signals, early stopping) is rank 0's, broadcast to all, and device-seconds
are summed across processes, so budgets are global.

Each process's loss is the mean over its own answer tokens; the step's loss and gradients weight
those means by the tokens behind them (as ``transformers.Trainer`` does with
``average_tokens_across_devices``), so they equal the single-process mean over all the step's
answer tokens even when answer lengths differ or a short last batch leaves a process empty.
A process that runs out of memory or gets a non-finite loss stops every process at the same
step: :meth:`DataParallel.combine` runs the same collectives in the same order on every process
whatever happened locally, so no process waits on a collective another one skipped.
"""
from __future__ import annotations

import math
import os
from typing import Any

import torch

from pefomed.train.step import StepStats

#: gradient elements all-reduced at once (64 MB of fp32), as DDP's buckets bound its copies
BUCKET_ELEMENTS = 1 << 24


def launched() -> bool:
    """True when a distributed launcher started this process (more than one process)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


class DataParallel:
    """The process group of this run; with one process every method is a no-op."""

    def __init__(self, device: str = "auto") -> None:
        self.rank, self.world = 0, 1
        if launched():
            from accelerate import PartialState

            # initialises the process group once per process: nccl on CUDA, gloo on the CPU
            cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
            state = PartialState(cpu=cpu)
            self.rank, self.world = state.process_index, state.num_processes

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, group: list) -> list:
        if self.world == 1:
            return group
        per = -(-len(group) // self.world)
        return group[self.rank * per:(self.rank + 1) * per]

    def broadcast_parameters(self, model: torch.nn.Module) -> None:
        """Start every process from rank 0's trainable weights (they match already when seeded)."""
        if self.world == 1:
            return
        import torch.distributed as dist

        for p in model.parameters():
            if p.requires_grad:
                dist.broadcast(p.data, src=0)

    def combine(self, stats: StepStats | None, model: torch.nn.Module, samples: int,
                device: Any) -> StepStats | None:
        """This step over every process: None when any process ran out of memory (``stats`` None
        there), else the token-weighted loss (non-finite when any process's is, and then the
        gradients are left alone) with every process's gradients combined the same way."""
        if self.world == 1:
            return stats
        import torch.distributed as dist

        ok = stats is not None
        weight = stats.weight if ok else 0.0
        summary = torch.tensor([0.0 if ok else 1.0, stats.loss * weight if ok else 0.0, weight,
                                stats.tokens if ok else 0], dtype=torch.float64, device=device)
        dist.all_reduce(summary)
        failed, loss_sum, total_weight, tokens = summary.tolist()
        if failed:
            return None
        loss = loss_sum / total_weight if total_weight else 0.0
        if math.isfinite(loss):
            self._combine_gradients(model, weight / total_weight if total_weight else 0.0)
        return StepStats(loss, int(tokens), samples, total_weight)

    def _combine_gradients(self, model: torch.nn.Module, share: float) -> None:
        """Set every process's gradients to the sum over processes of its own times its ``share``,
        in buckets of :data:`BUCKET_ELEMENTS` (a full fine-tune's gradients are never copied
        whole). A parameter without a gradient counts as zeros, and stays without one only when
        no process has one (AdamW skips it then, as it would in one process)."""
        import torch.distributed as dist

        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            return
        present = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=params[0].device)
        dist.all_reduce(present)
        params = [p for p, anywhere in zip(params, present.tolist()) if anywhere]
        bucket: list[torch.nn.Parameter] = []
        size = 0
        for i, p in enumerate(params):
            bucket.append(p)
            size += p.numel()
            if size >= BUCKET_ELEMENTS or i == len(params) - 1:
                self._reduce_bucket(bucket, share)
                bucket, size = [], 0

    @staticmethod
    def _reduce_bucket(params: list[torch.nn.Parameter], share: float) -> None:
        import torch.distributed as dist

        flat = torch.cat([p.grad.detach().reshape(-1).float() * share if p.grad is not None
                          else torch.zeros(p.numel(), dtype=torch.float32, device=p.device) for p in params])
        dist.all_reduce(flat)
        offset = 0
        for p in params:
            value = flat[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
            if p.grad is None:
                p.grad = value.to(p.dtype).clone()
            else:
                p.grad.copy_(value)

    def total(self, value: float, device: Any) -> float:
        return self._reduce(value, device)

    def decide(self, reason: str | None) -> str | None:
        """Rank 0's stop decision, on every process."""
        if self.world == 1:
            return reason
        import torch.distributed as dist

        box = [reason]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def _reduce(self, value: float, device: Any) -> float:
        if self.world == 1:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return float(t.item())
