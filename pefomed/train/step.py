"""One optimizer step's worth of forward/backward: encoding, device placement, precision, loss.

Each record is encoded once per run (:class:`~pefomed.train.encoded.EncodedRecords`) and batches
are collated from those rows; with a feature cache, images already seen skip the vision tower.
Generative losses apply the output layer to answer positions only
(:mod:`pefomed.models.answer_logits`): the same loss as full logits, without their memory.

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
from pefomed.models.answer_logits import answer_positions, gather_head_inputs
from pefomed.train.encoded import EncodedRecords

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


#: ``dtype="auto"`` trains a model this large in bf16 autocast on a CPU with native bf16 (measured
#: by bench/train_vs_trainer.py: 2.25x faster per step on a 110M LLaVA, the loss within 1e-3
#: relative of fp32; slower than fp32 on the 0.2M tiny models, whose small matmuls pay the casts)
CPU_BF16_MIN_PARAMS = 10_000_000


def resolve_dtype(dtype: str, device: torch.device, model: Any = None) -> torch.dtype:
    """``"auto"``: bf16 on a GPU that supports it; on a CPU with native bf16 (AVX512-BF16 or AMX)
    bf16 for a ``model`` of at least :data:`CPU_BF16_MIN_PARAMS` parameters (not quantized); fp32
    elsewhere (without ``model``, fp32 on every CPU)."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        if device.type == "cpu" and model is not None and cpu_has_native_bf16() and not is_quantized(model):
            if sum(p.numel() for p in model.parameters()) >= CPU_BF16_MIN_PARAMS:
                return torch.bfloat16
        return torch.float32
    if dtype == "bf16":
        from accelerate.utils import is_bf16_available

        if not is_bf16_available():
            raise PefomedError(f"dtype 'bf16' is not supported on {device}; use dtype='fp32' or 'auto'")
        return torch.bfloat16
    return torch.float32


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matmuls natively (emulated bf16 is slower than fp32)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def is_quantized(model: Any) -> bool:
    """True for bitsandbytes 4/8-bit models (they refuse ``.to(device)``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False)
                or getattr(base, "hf_quantizer", None) is not None)


@dataclass
class StepStats:
    """What one step processed: mean answer-token loss, sequence tokens, samples, and the
    ``weight`` that mean is over (answer tokens; records for a classifier), which data-parallel
    processes use to combine their means into the mean over the whole step."""

    loss: float
    tokens: int
    samples: int
    weight: float = 0.0


class StepRunner:
    """Runs forward/backward for groups of records on one adapted model.

    ``cache`` is a :class:`~pefomed.train.feature_cache.BoundFeatureCache` or None. With
    ``answer_only=False`` generative losses use the full-sequence logits (the reference path).
    """

    def __init__(self, adapted: Any, device: torch.device, dtype: torch.dtype, cache: Any = None,
                 answer_only: bool = True) -> None:
        self.adapted = adapted
        self.bundle = adapted.bundle
        self.family = adapted.bundle.family
        self.device = device
        self.dtype = dtype
        self.cache = cache
        self.encoded = EncodedRecords(adapted.bundle)
        self.answer_only = answer_only and self.family.answer_only_logits
        self.head = self.family.output_head(self.bundle) if self.family.task == "generate" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def encode(self, records: list[VQARecord]) -> dict[str, torch.Tensor]:
        """The batch of model inputs for ``records`` on the device (with pixels, unless the
        feature cache of this runner already holds those images' features)."""
        return self._prepare(records, skip_pixels=False)[0]

    def _prepare(self, records: list[VQARecord], skip_pixels: bool) -> tuple[dict[str, Any], list[dict]]:
        batch, rows = self.encoded.batch(records, skip_pixels=skip_pixels)
        return {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}, rows

    def backward(self, records: list[VQARecord], micro_batch_size: int) -> StepStats:
        """Accumulate gradients over ``records`` in micro-batches; return the step's mean loss.

        A non-finite loss is returned as is (nothing is backpropagated from it).
        """
        chunks = [records[i:i + micro_batch_size] for i in range(0, len(records), micro_batch_size)]
        prepared = [self._prepare(chunk, skip_pixels=self.cache is not None) for chunk in chunks]
        generative = self.family.task == "generate"
        weight = float(len(records))
        if generative:
            denom = sum(int((inputs["labels"][:, 1:] != IGNORE_INDEX).sum()) for inputs, _ in prepared)
            if denom == 0:
                raise PefomedError("no answer tokens in this batch: every answer is empty after "
                                   "tokenization; check the dataset's answers")
            weight = float(denom)
        total_loss = 0.0
        tokens = 0
        for chunk, (inputs, rows) in zip(chunks, prepared):
            tokens += int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else 0
            with self.autocast():
                if generative:
                    loss = self._token_loss_sum(chunk, inputs, rows) / denom
                else:
                    loss = self._forward(chunk, inputs, rows).loss * (len(chunk) / len(records))
            if self.cache is not None:
                self.encoded.drop_pixels(chunk)  # their features are cached now
            if not torch.isfinite(loss):
                return StepStats(float("nan"), tokens, len(records), weight)
            loss.backward()
            total_loss += float(loss.detach())
        return StepStats(total_loss, tokens, len(records), weight)

    def _token_loss_sum(self, chunk: list[VQARecord], inputs: dict[str, torch.Tensor],
                        rows: list[dict] | None = None) -> torch.Tensor:
        labels = inputs.pop("labels")
        if self.head is None:  # no known output layer: the model's own full logits
            logits = self._forward(chunk, inputs, rows).logits[:, :-1].float()
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=IGNORE_INDEX, reduction="sum")
        if self.answer_only:
            batch_rows, positions, targets = answer_positions(labels)
        else:
            batch_rows = positions = None
        with gather_head_inputs(self.head, batch_rows, positions, labels.shape[1]) as seen:
            self._forward(chunk, inputs, rows)
        if seen["calls"] != 1:
            raise RuntimeError(f"{self.family.name}: the output layer ran {seen['calls']} times in one "
                               "forward; answer-only logits assume once (set answer_only_logits=False)")
        logits = seen["logits"]
        if not self.answer_only:  # the reference path: every position, virtual tokens dropped
            logits = logits[:, seen["offset"]:-1]
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
                                   ignore_index=IGNORE_INDEX, reduction="sum")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets, reduction="sum")

    def _forward(self, chunk: list[VQARecord], inputs: dict[str, torch.Tensor],
                 rows: list[dict] | None = None) -> Any:
        if self.cache is None:
            return self.bundle.model(**inputs)
        features = self.cache.features(chunk, inputs, rows)
        return self.cache.forward(inputs, features)
