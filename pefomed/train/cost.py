"""What a training run cost: time, memory, parameters, an analytic FLOP estimate, cache savings.

FLOP estimate (per processed sequence token), after Kaplan et al. 2020, "Scaling Laws for Neural
Language Models" (arXiv:2001.08361, Sec. 2.1): a forward pass costs ``2N`` FLOPs for ``N``
parameters and the backward pass twice that, ``C ≈ 6N`` per token for full training. The backward
``4N`` splits into ``2N`` for activation gradients and ``2N`` for weight gradients; frozen weights
skip their weight gradients, and no activation gradient flows below the first trainable module.
So::

    flops ≈ tokens × (2·N_forward + 2·N_backprop + 2·N_trainable)

with ``N_forward`` the parameters run forward (minus the vision tower when its features come
from the cache), ``N_backprop`` those gradients flow through (from the output down to the first
trainable part) and ``N_trainable`` the trained ones. Full fine-tuning gives back ``6N``.
Tokens are the text sequence positions (image placeholder tokens included; the vision tower's
patches are not counted separately). It is an estimate for ranking runs, not a measurement.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Cost:
    """The resources one training run used. JSON-safe via :meth:`to_dict` / :meth:`from_dict`."""

    wall_seconds: float = 0.0
    device_seconds: float = 0.0
    device_seconds_kind: str = "cpu_process"  # "cuda" (GPU-seconds) or "cpu_process" (CPU-seconds)
    peak_memory_mb: float = 0.0
    memory_kind: str = "cpu_rss"  # "cuda_allocated" or "cpu_rss"
    trainable_params: int = 0
    total_params: int = 0
    flops_estimate: float = 0.0
    adapter_bytes: int = 0
    samples: int = 0
    steps: int = 0
    tokens: int = 0
    feature_cache: bool = False
    cache_hits: int = 0
    cache_misses: int = 0
    cache_seconds_saved: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Cost":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def train_flops(tokens: int, *, n_forward: int, n_backprop: int, n_trainable: int) -> float:
    """``tokens × (2·N_forward + 2·N_backprop + 2·N_trainable)`` (see the module docstring)."""
    return float(tokens) * 2.0 * (n_forward + n_backprop + n_trainable)


def params_by_part(model: Any, anatomy: Any) -> dict[str, int]:
    """Parameter counts per part (vision/projector/language/head/other), shared weights once."""
    counts: dict[str, int] = {}
    seen: set[int] = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            continue
        seen.add(id(p))
        part = anatomy.part_of(_strip_wrappers(name)) or "other"
        counts[part] = counts.get(part, 0) + p.numel()
    return counts


def _strip_wrappers(name: str) -> str:
    # peft wraps the model as base_model.model.<original name>; the anatomy speaks original names
    for prefix in ("base_model.model.",):
        if name.startswith(prefix):
            name = name[len(prefix):]
    for marker in (".base_layer.",):
        name = name.replace(marker, ".")
    return name


def flop_parts(model: Any, anatomy: Any, *, vision_trainable: bool, projector_trainable: bool,
               vision_cached: bool) -> tuple[int, int]:
    """``(N_forward, N_backprop)`` for :func:`train_flops`, from the model's part sizes."""
    parts = params_by_part(model, anatomy)
    total = sum(parts.values())
    vision = parts.get("vision", 0)
    projector = parts.get("projector", 0)
    n_forward = total - vision if vision_cached else total
    if vision_trainable:
        n_backprop = total
    elif projector_trainable:
        n_backprop = total - vision
    else:
        n_backprop = total - vision - projector
    return n_forward, n_backprop
