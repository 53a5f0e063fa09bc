"""One optimizer step's worth of forward/backward: encoding, device placement, precision, loss.

The loss of a step is the mean over the *answer tokens of the whole step* (every micro-batch of
a gradient-accumulation group), so ``grad_accum=2, batch_size=2`` gives the same gradients as
``batch_size=4``. Per-micro-batch means would weight short answers differently.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError

IGNORE_INDEX = -100


def resolve_device(device: str) -> torch.device:
    """``"auto"`` asks accelerate (CUDA, MPS, XPU or CPU; honours distributed launchers)."""
    if device == "auto":
        from accelerate import PartialState

        return torch.device(PartialState().device)
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise PefomedError(f"device {device!r} was requested but CUDA is not available here; "
                           "use device='cpu' or 'auto'")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``"auto"``: bf16 on a GPU that supports it, fp32 elsewhere (CPU bf16 autocast is slow)."""
    if dtype == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    if dtype == "bf16":
        from accelerate.utils import is_bf16_available

        if not is_bf16_available():
            raise PefomedError(f"dtype 'bf16' is not supported on {device}; use dtype='fp32' or 'auto'")
        return torch.bfloat16
    return torch.float32


def is_quantized(model: Any) -> bool:
    """True for bitsandbytes 4/8-bit models (they refuse ``.to(device)``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False)
                or getattr(base, "hf_quantizer", None) is not None)


@dataclass
class StepStats:
    """What one step processed: mean answer-token loss, sequence tokens, samples."""

    loss: float
    tokens: int
    samples: int


class StepRunner:
    """Runs forward/backward for groups of records on one adapted model.

    ``cache`` is a :class:`~pefomed.train.feature_cache.BoundFeatureCache` or None.
    """

    def __init__(self, adapted: Any, device: torch.device, dtype: torch.dtype, cache: Any = None) -> None:
        self.adapted = adapted
        self.bundle = adapted.bundle
        self.family = adapted.bundle.family
        self.device = device
        self.dtype = dtype
        self.cache = cache

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def encode(self, records: list[VQARecord]) -> dict[str, torch.Tensor]:
        images = [r.load_image() for r in records]
        inputs = self.family.encode(self.bundle, images, [r.question for r in records],
                                    [r.answer for r in records])
        return {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}

    def backward(self, records: list[VQARecord], micro_batch_size: int) -> StepStats:
        """Accumulate gradients over ``records`` in micro-batches; return the step's mean loss.

        A non-finite loss is returned as is (nothing is backpropagated from it).
        """
        chunks = [records[i:i + micro_batch_size] for i in range(0, len(records), micro_batch_size)]
        encoded = [self.encode(chunk) for chunk in chunks]
        generative = self.family.task == "generate"
        if generative:
            denom = sum(int((enc["labels"][:, 1:] != IGNORE_INDEX).sum()) for enc in encoded)
            if denom == 0:
                raise PefomedError("no answer tokens in this batch: every answer is empty after "
                                   "tokenization; check the dataset's answers")
        total_loss = 0.0
        tokens = 0
        for chunk, inputs in zip(chunks, encoded):
            tokens += int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else 0
            with self.autocast():
                if generative:
                    loss = self._token_loss_sum(chunk, inputs) / denom
                else:
                    loss = self._forward(chunk, inputs).loss * (len(chunk) / len(records))
            if not torch.isfinite(loss):
                return StepStats(float("nan"), tokens, len(records))
            loss.backward()
            total_loss += float(loss.detach())
        return StepStats(total_loss, tokens, len(records))

    def _token_loss_sum(self, chunk: list[VQARecord], inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = inputs.pop("labels")
        logits = self._forward(chunk, inputs).logits[:, :-1].float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=IGNORE_INDEX, reduction="sum")

    def _forward(self, chunk: list[VQARecord], inputs: dict[str, torch.Tensor]) -> Any:
        if self.cache is None:
            return self.bundle.model(**inputs)
        features = self.cache.features(chunk, inputs)
        return self.cache.forward(inputs, features)
