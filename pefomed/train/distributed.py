"""Data-parallel training across processes (``torchrun`` / ``accelerate launch``), via accelerate.

Every process builds the same model from the same seed and walks the same shuffled order; each
global step's records are split into one contiguous shard per process (``batch_size`` is per
process, so 2 processes x batch B see what 1 process x batch 2B sees). After backward the
trainable gradients are averaged across processes (an all-reduce, as DDP does), so every process
takes the same optimizer step. Rank 0 alone writes the run folder, logs and evaluates; the stop
decision (budgets, signals, early stopping) is rank 0's, broadcast to all, and device-seconds
are summed across processes, so budgets are global.

Each process's loss is the mean over its own answer tokens, and the step's loss is the mean of
those (as ``transformers.Trainer`` does by default): with equal answer lengths on every rank
this equals the single-process loss exactly; otherwise ranks are weighted equally.
"""
from __future__ import annotations

import os
from typing import Any

import torch


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

    def average_gradients(self, model: torch.nn.Module) -> None:
        if self.world == 1:
            return
        import torch.distributed as dist

        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, value: float, device: Any) -> float:
        return self._reduce(value, device) / self.world

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
