"""Checks on what :func:`~pefomed.train.loop.train` is handed, before anything is moved or run.

Wrong types (a model name instead of an adapted model, a string instead of records, a dict
instead of a TrainConfig) and a device this machine lacks would otherwise surface as an
AttributeError or a torch RuntimeError deep inside the first step.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError


def check_train_inputs(adapted: Any, records: Any, config: Any, budget: Any) -> list[VQARecord]:
    """The records as a list; PefomedError naming the argument and the fix when a type is wrong."""
    from pefomed.adapters.handle import AdaptedModel
    from pefomed.train.budget import Budget
    from pefomed.train.loop import TrainConfig

    if not isinstance(adapted, AdaptedModel):
        raise PefomedError(f"train needs the AdaptedModel that inject() returns, but got {_what(adapted)}; "
                           "pass inject(create_model(...), method)")
    if isinstance(records, (str, bytes)) or not isinstance(records, Iterable):
        raise PefomedError(f"train needs a list of VQARecord (or a Split), but got {_what(records)}; "
                           "load them with pefomed.load_dataset(name, split)")
    records = list(records)
    bad = next((i for i, r in enumerate(records) if not isinstance(r, VQARecord)), None)
    if bad is not None:
        raise PefomedError(f"train needs VQARecord items, but item {bad} is {_what(records[bad])}; "
                           "load records with pefomed.load_dataset(name, split)")
    if not isinstance(config, TrainConfig):
        raise PefomedError(f"train needs a TrainConfig as config, but got {_what(config)}; "
                           "pass TrainConfig(lr=..., batch_size=...)")
    if not isinstance(budget, Budget):
        raise PefomedError(f"train needs a Budget as budget, but got {_what(budget)}; pass Budget(max_steps=...)")
    check_device(config.device)
    return records


def check_device(device: str) -> None:
    """Refuse, in one line, a device this machine does not have (``auto`` and ``cpu`` always work)."""
    kind, _, index = str(device).partition(":")
    if kind in ("auto", "cpu"):
        return
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        ok = count > (int(index) if index else 0)
        have = f"{count} CUDA device(s)" if count else "no CUDA device"
    elif kind == "mps":
        ok = torch.backends.mps.is_available()
        have = "no MPS (Apple GPU) device"
    elif kind == "xpu":
        ok = hasattr(torch, "xpu") and torch.xpu.is_available()
        have = "no XPU device"
    else:
        return  # TrainConfig already refused anything else
    if not ok:
        raise PefomedError(f"device {device!r} was requested, but this machine has {have} (torch "
                           f"{torch.__version__}); use --device cpu or auto")


def _what(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
