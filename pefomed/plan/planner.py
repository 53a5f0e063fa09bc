"""``plan(model, method, ...)``: build the model on the meta device, inject the method, and put
every byte of one training step through :mod:`pefomed.plan.memory`.

The record (:func:`plan`) is plain data; the CLI table and ``--json`` render it, the sweep
reads ``peak_bytes``. Nothing here reads weights or allocates them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from torch import nn

from pefomed.errors import PefomedError
from pefomed.plan import memory
from pefomed.plan.shapes import image_tokens_in_lm, language_shape, vision_shape

GIB = 1024 ** 3
#: what the CPU allocator keeps beyond live tensors during a step (measured by bench/plan_vs_measured.py)
CPU_OVERHEAD_BYTES = 150 * 1024 ** 2
#: CUDA: the caching allocator's rounding and cuBLAS workspaces inside max_memory_allocated
CUDA_OVERHEAD_BYTES = 256 * 1024 ** 2
#: outside torch.cuda.max_memory_allocated but on the card: CUDA context and kernels
CUDA_CONTEXT_BYTES = 512 * 1024 ** 2


@dataclass(frozen=True)
class PlanRequest:
    """One planning question; shared by the CLI, the sweep and the Python API."""

    model: str
    method: str
    parts: tuple[str, ...] = ("language",)
    layers: str = "attention"
    settings: tuple[tuple[str, Any], ...] = ()
    train_projector: bool = False
    batch_size: int = 1
    image_size: int | None = None
    #: a cap on pixels per image (Qwen2-VL/2.5-VL, Idefics3/SmolVLM), as ``pefomed train --max-pixels``;
    #: planned for a square image at the cap, the most tokens an image can take
    max_pixels: int | None = None
    prompt_tokens: int = 32
    max_answer_tokens: int = 16
    dtype: str = "bf16"
    gradient_checkpointing: bool = False
    optimizer: str = "adamw"
    device: str = "cuda"
    memory_bytes: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.dtype not in memory.DTYPE_BYTES:
            problems.append(f"dtype must be one of {', '.join(memory.DTYPE_BYTES)}, but got {self.dtype!r}")
        if self.optimizer not in memory.OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(memory.OPTIMIZERS)}, but got {self.optimizer!r}")
        for name in ("batch_size", "prompt_tokens", "max_answer_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "batch_size" else 0):
                problems.append(f"{name} must be a whole number >= {1 if name == 'batch_size' else 0}, but got {value!r}")
        if self.image_size is not None and (not isinstance(self.image_size, int) or self.image_size < 14):
            problems.append(f"image_size must be a whole number >= 14 pixels, but got {self.image_size!r}")
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int)
                                            or self.max_pixels < 14 * 14):
            problems.append(f"max_pixels must be a whole number >= {14 * 14} (14x14), but got {self.max_pixels!r}")
        if self.image_size is not None and self.max_pixels is not None:
            problems.append("give image_size or max_pixels, not both")
        if self.device not in ("cuda", "cpu"):
            problems.append(f"device must be 'cuda' or 'cpu', but got {self.device!r}")
        if problems:
            raise PefomedError("invalid plan request: " + "; ".join(problems))


#: methods whose injection needs real weights, so a model built on the meta device cannot take them
UNPLANNED = {
    "prefix": "peft builds prefix tuning from tensor values, which a model without weights (meta device) lacks",
    "prompt": "peft builds prompt tuning from the tokenizer, which a plan from config.json does not load",
}


def plan(request: PlanRequest) -> dict[str, Any]:
    """The memory plan of one method: every term, the peak, fit and the largest batch that fits."""
    from pefomed.adapters import inject
    from pefomed.models.registry import create_model

    if request.method in UNPLANNED:
        raise PefomedError(f"{request.method} cannot be planned yet: {UNPLANNED[request.method]}; plan lora or "
                           "ia3 for a comparable size, or measure a short run with `pefomed train --max-steps 2`")
    bundle = create_model(request.model, weights=False)
    adapted = inject(bundle, request.method, parts=list(request.parts), layers=request.layers,
                     settings=dict(request.settings), train_projector=request.train_projector)
    e = memory.DTYPE_BYTES[request.dtype]
    quantized = set(adapted.state.get("quantized") or []) if request.method == "qlora" else set()
    weights_by, trainable, largest = _weights(adapted, e, quantized)
    shape = _step_shape(adapted, request, e)
    overhead = CUDA_OVERHEAD_BYTES if request.device == "cuda" else CPU_OVERHEAD_BYTES
    weights = sum(weights_by.values())

    def at(batch: int) -> memory.Breakdown:
        return memory.breakdown(replace(shape, batch=batch), weights=weights, trainable=trainable,
                                largest_trainable=largest, optimizer=request.optimizer, overhead=overhead)

    b = at(request.batch_size)
    cap = request.memory_bytes
    usable = None if cap is None else cap - (CUDA_CONTEXT_BYTES if request.device == "cuda" else 0)
    largest_batch = _largest_batch(at, usable) if usable is not None else None
    return {
        "model": request.model, "family": bundle.family.name, "method": request.method,
        "request": {**asdict(request), "settings": dict(request.settings)},
        "trainable_parameters": trainable,
        "trainable_by_part": adapted.trainable_by_part(),
        "total_parameters": adapted.total_parameters(),
        "adapter_bytes": adapted.adapter_bytes(),
        "weights_by_part": {f"{part} ({prec})": v for (part, prec), v in sorted(weights_by.items())},
        "kept_full_precision": adapted.state.get("kept_full_precision", []),
        "tokens": {"lm_per_example": shape.lm_tokens,
                   "vision_per_example": next((t.tokens for t in shape.towers if t.shape.name == "vision"), 0)},
        "bytes": {"weights": b.weights, "gradients": b.gradients, "optimizer": b.optimizer,
                  "optimizer_temp": b.optimizer_temp, "activations": b.activations,
                  "activations_no_gc": _acts(shape, request.batch_size, False),
                  "activations_gc": _acts(shape, request.batch_size, True),
                  "logits": b.logits + b.logits_backward, "workspace": b.workspace, "overhead": b.overhead,
                  "cuda_context": CUDA_CONTEXT_BYTES if request.device == "cuda" else 0},
        "peak_bytes": b.peak,
        "card_bytes": b.peak + (CUDA_CONTEXT_BYTES if request.device == "cuda" else 0),
        "memory_bytes": cap,
        "fits": None if cap is None else b.peak <= usable,
        "largest_batch": largest_batch,
    }


def _acts(shape: memory.StepShape, batch: int, gc: bool) -> float:
    return sum(memory.tower_activation_bytes(t, batch, shape.dtype_bytes, gc)["kept"] for t in shape.towers)


def _largest_batch(at, usable: float, limit: int = 4096) -> int:
    """The largest batch whose peak fits ``usable`` bytes (0 if not even one example)."""
    if at(1).peak > usable:
        return 0
    lo, hi = 1, 2
    while hi <= limit and at(hi).peak <= usable:
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if at(mid).peak <= usable else (lo, mid)
    return lo


def _weights(adapted, e: int, quantized: set[str]) -> tuple[dict[tuple[str, str], float], int, int]:
    """Weight bytes by (part, precision), trainable parameter count, largest trainable tensor."""
    anatomy = adapted.bundle.family.anatomy
    quant_weights = {f"{n}.weight" for n in quantized}
    base_names = {id(p): n for n, p in adapted.base.named_parameters(remove_duplicate=False)}
    dq = bool(adapted.settings.get("double_quant", True))
    nf4 = memory.NF4_BYTES if dq else memory.FP4_NO_DQ_BYTES
    out: dict[tuple[str, str], float] = {}
    trainable = largest = 0
    for p in adapted.model.parameters():
        name = base_names.get(id(p), "")
        clean = name.replace(".base_layer.", ".")
        part = anatomy.part_of(clean) or ("language" if not name else "other")
        if clean in quant_weights:
            key, size = (part, "nf4+dq" if dq else "4-bit"), p.numel() * nf4
        else:
            key, size = (part, "trainable" if p.requires_grad else "frozen"), p.numel() * e
        out[key] = out.get(key, 0.0) + size
        if p.requires_grad:
            trainable += p.numel()
            largest = max(largest, p.numel())
    return out, trainable, largest


def _step_shape(adapted, request: PlanRequest, e: int) -> memory.StepShape:
    config = adapted.base.config
    model_type = getattr(config, "model_type", "")
    side = request.image_size if request.max_pixels is None else math.isqrt(request.max_pixels)
    vision = vision_shape(config, model_type, side)
    lang, vocab = language_shape(config)
    lm_tokens = image_tokens_in_lm(config, model_type, vision) + request.prompt_tokens + request.max_answer_tokens
    grads = _tower_grads(adapted)
    towers = []
    for t, tokens in ((vision, vision.tokens_per_image if vision else 0), (lang, lm_tokens)):
        if t is None:
            continue
        grad, extra, mask = grads[t.name]
        towers.append(memory.Tower(t, tokens, grad, extra / max(t.layers, 1), mask / max(t.layers, 1),
                                   repeat_kv=t.kv_heads != t.heads))
    return memory.StepShape(tuple(towers), vocab, lm_tokens, request.batch_size, e,
                            request.gradient_checkpointing, cuda=request.device == "cuda")


def _tower_grads(adapted) -> dict[str, tuple[str, float, float]]:
    """Per tower: how gradients flow ("none", "frozen", "full"), and adapter extras per token."""
    anatomy = adapted.bundle.family.anatomy
    dropout = float(adapted.settings.get("lora_dropout", 0.0) or 0.0)
    r = int(adapted.settings.get("r", 0) or 0)
    info = {"vision": ["none", 0.0, 0.0], "projector": ["none", 0.0, 0.0], "language": ["none", 0.0, 0.0]}
    for name, module in adapted.base.named_modules():
        part = anatomy.part_of(name.replace(".base_layer", ""))
        if part not in info:
            continue
        if type(module) is nn.Linear and module.weight.requires_grad and ".lora_" not in name:
            info[part][0] = "full"
        if hasattr(module, "lora_A") and isinstance(getattr(module, "in_features", None), int):
            info[part][0] = "frozen" if info[part][0] == "none" else info[part][0]
            info[part][1] += (module.in_features if dropout > 0 else 0) + r
            info[part][2] += module.in_features if dropout > 0 else 0
        elif hasattr(module, "ia3_l"):
            info[part][0] = "frozen" if info[part][0] == "none" else info[part][0]
            ff = bool(getattr(module, "is_feedforward", False))
            info[part][1] += module.in_features if ff else module.out_features
    for part in info:  # anything else trainable (norms, prompts, bottlenecks) makes gradients flow
        if info[part][0] == "none" and adapted.trainable_by_part().get(part, 0) > 0:
            info[part][0] = "frozen"
    order = ("vision", "projector", "language")
    flowing = False
    for part in order:  # gradients flow through everything after the first trainable part
        flowing = flowing or info[part][0] != "none"
        if flowing and info[part][0] == "none":
            info[part][0] = "frozen"
    return {k: (v[0], v[1], v[2]) for k, v in info.items()}
