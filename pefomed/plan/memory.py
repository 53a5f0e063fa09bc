"""The memory model of one training step: every formula, in bytes, derived once here.

Notation: ``e`` bytes per element of the compute dtype (4 fp32, 2 bf16/fp16); per tower
(vision encoder, language model) ``L`` layers, hidden ``h``, MLP width ``f``, query width
``q = heads * head_dim``, key/value width ``k = kv_heads * head_dim``; ``T`` tokens in the
tower for the whole batch (``batch * tokens per example``); ``V`` vocabulary.

Weights. A parameter costs ``numel * e``; a Linear weight kept in 4 bits (QLoRA) costs
``numel * (1/2 + 1/64 + 4/(64*256))`` bytes: two NF4 values per byte, one 8-bit absmax per
64-weight block, and, with double quantization, one fp32 scale per 256 absmax values
(without it: ``1/2 + 4/64``). Heads, norms, embeddings and whatever QLoRA skips stay at ``e``.

Gradients and optimizer. Gradients cost ``P * e`` for ``P`` trainable parameters. AdamW keeps
two moments per parameter (``2 * P * e``); bitsandbytes' 8-bit AdamW keeps them in one byte each
plus an fp32 scale per 2048-block (``2 * P * (1 + 4/2048)``); the paged variants have the same
size but may be paged out to CPU memory under pressure, so their figure is an upper bound on
the GPU. ``torch.optim.AdamW``'s foreach step (the default on CUDA) builds one temporary of
``P * e`` (``sqrt`` of the second moments); the per-parameter loop on the CPU needs only the
largest parameter's.

Activations saved for backward (per layer, where gradients flow through the tower). Counting
the tensors autograd keeps in the transformers implementations (pre-norm blocks, SDPA
attention that keeps no ``s x s`` matrix):

* every norm keeps its fp32 input and its normalized output: ``T*h*(4 + e)`` for RMSNorm
  (``T*h*e`` plus per-token statistics for LayerNorm); two norms per layer;
* attention keeps the rotated query, key and value for SDPA's backward, ``T*(q + 2k)*e`` (keys
  and values expanded to ``q`` wide when the implementation repeats them for grouped-query
  attention), plus its output ``T*q*e`` and a log-sum-exp of ``T*heads*4``;
* a gated MLP (SwiGLU/GeGLU) keeps the gate output, the activation and the up projection,
  ``3*T*f*e``; a plain MLP keeps the activation's input, ``T*f*e``;
* a Linear layer keeps its *input* only when its own weight trains (its input gradient needs
  the weight alone): full fine-tuning adds the norm outputs ``2*T*h*e``, the attention output
  ``T*q*e`` and the MLP hidden ``T*f*e``; LoRA adds, per adapted layer, its dropout output and
  mask (``T*d_in*(e + 1)``, or nothing new when ``lora_dropout == 0``) and ``T*r*e``; IA3 keeps
  the scaled key/value outputs ``2*T*k*e`` and the MLP hidden ``T*f*e`` it rescales.

A tower that nothing before or in it trains keeps nothing (frozen vision tower under LoRA of
the language model): it only needs one layer's working set while it runs. With gradient
checkpointing a tower keeps each layer's input, ``L*T*h*e``, plus one layer's activations while
that layer is recomputed.

Logits. ``lm_head`` produces ``T*V`` logits in ``e``; the loss upcasts them to fp32 (a copy when
``e != 4``, not kept for backward) and ``log_softmax`` keeps its fp32 result, ``T*V*4``; backward
starts with an fp32 gradient of that result and one of the fp32 logits, plus one in ``e`` when
``e != 4``: ``T*V*(8 + e*[e != 4])`` more (the forward's ``T*V*(e + 8)`` is never above that).

Peak. Gradients appear as activations are freed during backward, so the step peaks at
``weights + optimizer + max(activations + logits, gradients + optimizer temporary)`` plus the
working set of the largest layer (``workspace``: the recomputation or backward of one layer,
``2*T*max(f, 4h)*e``) and a framework constant (CUDA: allocator rounding; the CUDA context,
~0.5 GB, is outside ``torch.cuda.max_memory_allocated`` and listed separately; CPU: the
allocator's retained pages, checked by ``bench/plan_vs_measured.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pefomed.plan.shapes import TowerShape

NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
FP4_NO_DQ_BYTES = 0.5 + 4 / 64
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
OPTIMIZERS = ("adamw", "adamw-8bit", "paged-adamw-8bit")


@dataclass(frozen=True)
class Tower:
    """One transformer stack (its shape, read from the config), its tokens per example, and how
    it trains."""

    shape: TowerShape
    tokens: int
    #: "none" (no gradient flows: nothing kept), "frozen" (activations need grad, weights frozen),
    #: "full" (weights train)
    grad: str = "none"
    #: adapter-specific saved inputs per layer, in elements per token (LoRA dropout outputs, IA3 ...)
    extra_per_token: float = 0.0
    #: bytes per element of the mask-like extras (dropout masks, 1 byte each) per token per layer
    extra_mask_per_token: float = 0.0
    repeat_kv: bool = False


@dataclass(frozen=True)
class StepShape:
    """What one optimizer step runs: towers, vocabulary, batch, dtype, options."""

    towers: tuple[Tower, ...]
    vocab: int
    lm_tokens: int
    batch: int
    dtype_bytes: int
    gradient_checkpointing: bool = False
    cuda: bool = True


def tower_activation_bytes(t: Tower, batch: int, e: int, checkpointing: bool) -> dict[str, float]:
    """Bytes a tower keeps for backward: ``kept`` for the whole batch, ``layer`` for one layer."""
    if t.grad == "none":
        return {"kept": 0.0, "layer": 0.0}
    T, s = batch * t.tokens, t.shape
    q, k, h, f = s.heads * s.head_dim, s.kv_heads * s.head_dim, s.hidden, s.intermediate
    kv = q if t.repeat_kv else k
    norms = 2 * T * h * ((4 + e) if s.rms_norm else e)
    attn = T * (q + 2 * kv) * e + T * q * e + T * s.heads * 4
    mlp = (3 if s.gated else 1) * T * f * e
    linear_inputs = (2 * T * h + T * q + T * f) * e if t.grad == "full" else 0.0
    extra = T * (t.extra_per_token * e + t.extra_mask_per_token)
    layer = norms + attn + mlp + linear_inputs + extra
    if checkpointing:
        return {"kept": s.layers * T * h * e + layer, "layer": layer}
    return {"kept": s.layers * layer, "layer": layer}


def logits_bytes(lm_tokens: int, batch: int, vocab: int, e: int) -> dict[str, float]:
    """Logits and the loss: ``kept`` until backward, ``backward`` created at its start."""
    n = batch * lm_tokens * vocab
    return {"kept": n * 4, "backward": n * (8 + (e if e != 4 else 0))}


def workspace_bytes(shape: StepShape) -> float:
    """One layer's working set during forward/backward (the largest tower)."""
    best = 0.0
    for t in shape.towers:
        T = shape.batch * t.tokens
        best = max(best, 2 * T * max(t.shape.intermediate, 4 * t.shape.hidden) * shape.dtype_bytes)
    return best


def optimizer_bytes(trainable: int, optimizer: str, e: int) -> float:
    if optimizer == "adamw":
        return 2 * trainable * e
    return 2 * trainable * (1 + 4 / 2048)


def optimizer_temp_bytes(trainable: int, largest: int, e: int, cuda: bool, optimizer: str) -> float:
    if optimizer != "adamw":
        return largest * 4  # bitsandbytes dequantizes one block-wise state at a time
    return (trainable if cuda else largest) * e


@dataclass
class Breakdown:
    """Every term in bytes (see the module docstring for each formula)."""

    weights: float
    gradients: float
    optimizer: float
    optimizer_temp: float
    activations: float
    logits: float
    logits_backward: float
    workspace: float
    overhead: float
    extra: dict = field(default_factory=dict)

    @property
    def peak(self) -> float:
        backward = self.activations + self.logits + self.logits_backward
        step = self.gradients + self.optimizer_temp
        return self.weights + self.optimizer + max(backward, step) + self.workspace + self.overhead


def breakdown(shape: StepShape, *, weights: float, trainable: int, largest_trainable: int,
              optimizer: str, overhead: float) -> Breakdown:
    """All terms of one step for ``shape`` with the given weight bytes and trainable count."""
    e = shape.dtype_bytes
    acts = sum(tower_activation_bytes(t, shape.batch, e, shape.gradient_checkpointing)["kept"]
               for t in shape.towers)
    lm = logits_bytes(shape.lm_tokens, shape.batch, shape.vocab, e)
    lm_grad = any(t.grad != "none" for t in shape.towers if t.shape.name == "language")
    return Breakdown(
        weights=weights,
        gradients=trainable * e,
        optimizer=optimizer_bytes(trainable, optimizer, e),
        optimizer_temp=optimizer_temp_bytes(trainable, largest_trainable, e, shape.cuda, optimizer),
        activations=acts,
        logits=lm["kept"] if lm_grad else 0.0,
        logits_backward=lm["backward"] if lm_grad else 0.0,
        workspace=workspace_bytes(shape),
        overhead=overhead,
    )
