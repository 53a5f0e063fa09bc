"""4-bit (NF4/FP4) base weights for QLoRA, through bitsandbytes (>= 0.50 runs on the CPU too).

Two routes to a 4-bit base:

* a model already built in full precision (the tiny test models): :func:`quantize_4bit` swaps
  every ``nn.Linear`` for ``bnb.nn.Linear4bit`` in place;
* a real checkpoint: load it quantized, then inject (the in-place step is skipped)::

      from pefomed.adapters import get_adapter
      from pefomed.adapters.quantize import bnb_config
      from pefomed.models.registry import create_model, get_family

      settings = get_adapter("qlora").resolve_settings({"compute_dtype": "bfloat16"})
      config = bnb_config(get_family("llava"), settings)   # heads + skip_modules as FULL prefixes
      bundle = create_model("llava-hf/llava-1.5-7b-hf", quantization_config=config)
      adapted = inject(bundle, "qlora", settings=settings)

  transformers matches ``llm_int8_skip_modules`` from the start of each module name, so a bare
  ``"vision_tower"`` skips nothing in LLaVA; give ``"model.vision_tower"``.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from pefomed.models.base import Family, ModelBundle


def is_quantized(model: nn.Module) -> bool:
    """True if any layer of ``model`` is a bitsandbytes 4-bit Linear."""
    return any(type(m).__name__ == "Linear4bit" for m in model.modules())


def check_skip_modules(bundle: ModelBundle, skip: Iterable[str]) -> list[str]:
    """One message per ``skip_modules`` entry that is not the full prefix of a module."""
    names = [n for n, _ in bundle.model.named_modules() if n]
    errors = []
    for entry in skip:
        if any(n == entry or n.startswith(entry + ".") for n in names):
            continue
        full = sorted({n for n in names if n.endswith("." + entry)}, key=len)[:2]
        hint = f"; did you mean {' or '.join(repr(f) for f in full)}?" if full else ""
        errors.append(f"skip_modules entry {entry!r} is not the full prefix of a module of {bundle.name}{hint}")
    return errors


def quantize_4bit(model: nn.Module, skip: Iterable[str], *, quant_type: str = "nf4",
                  double_quant: bool = True, compute_dtype: str = "float32") -> list[str]:
    """Replace every ``nn.Linear`` not under a ``skip`` prefix by a 4-bit Linear, in place.

    Returns the full names of the quantized layers. Deterministic: the same float weights
    always give the same 4-bit weights, so a saved adapter reloads onto a re-quantized base.
    """
    import bitsandbytes as bnb

    dtype = getattr(torch, compute_dtype)
    names = linears_to_quantize(model, skip)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        old: nn.Linear = getattr(parent, child)
        new = bnb.nn.Linear4bit(old.in_features, old.out_features, bias=old.bias is not None,
                                compute_dtype=dtype, compress_statistics=double_quant, quant_type=quant_type,
                                device="meta")
        new.weight = bnb.nn.Params4bit(old.weight.data.detach().to("cpu").clone(), requires_grad=False,
                                       compress_statistics=double_quant, quant_type=quant_type)
        if old.bias is not None:
            new.bias = nn.Parameter(old.bias.data.detach().clone(), requires_grad=False)
        setattr(parent, child, new.to(old.weight.device))  # .to() quantizes
    keep_cpu_format(model)
    model.is_loaded_in_4bit = True  # as transformers' loader marks it: peft then uses its bnb layers
    return names


def linears_to_quantize(model: nn.Module, skip: Iterable[str]) -> list[str]:
    """Full names of the ``nn.Linear`` layers not under a ``skip`` prefix: what
    :func:`quantize_4bit` replaces. On a meta model QLoRA only records them (the memory planner
    accounts their weights at 4 bits; nothing is quantized)."""
    skip = tuple(skip)
    return [n for n, m in model.named_modules()
            if type(m) is nn.Linear and not any(n == s or n.startswith(s + ".") for s in skip)]


def keep_cpu_format(model: nn.Module) -> None:
    """Turn off bitsandbytes' AVX512-BF16 CPU repacking of 4-bit weights.

    On CPUs that have it, bitsandbytes repacks a Linear4bit's weights in place at its first
    eval-mode forward (bf16 scales, a layout that fails for layers narrower than the 64-wide
    quantization block). Outputs then depend on the CPU and on train/eval mode; we keep the
    portable kernel so results are the same everywhere.
    """
    for module in model.modules():
        if type(module).__name__ == "Linear4bit":
            module.support_avx512bf16_for_cpu = False


def dequantize_4bit(model: nn.Module) -> list[str]:
    """Replace every 4-bit Linear by an ``nn.Linear`` holding its dequantized weights, in place.

    The result computes what the 4-bit model computes, in full precision: load a QLoRA adapter
    onto it and merging is exact (merging into the 4-bit base re-quantizes and drifts).
    """
    from bitsandbytes.functional import dequantize_4bit as dequant

    names = [n for n, m in model.named_modules() if type(m).__name__ == "Linear4bit"]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        old = getattr(parent, child)
        weight = dequant(old.weight.data, old.weight.quant_state).to(torch.float32)
        new = nn.Linear(old.in_features, old.out_features, bias=old.bias is not None, device=weight.device)
        with torch.no_grad():
            new.weight.copy_(weight)
            if old.bias is not None:
                new.bias.copy_(old.bias)
        new.requires_grad_(False)
        setattr(parent, child, new)
    return names


def quantization_skips(bundle: ModelBundle, settings: dict[str, Any], train_projector: bool) -> list[str]:
    """Full prefixes kept in full precision: heads, the projector when it trains, skip_modules."""
    from pefomed.adapters.targets import head_prefixes, part_prefixes

    skips = head_prefixes(bundle) + list(settings.get("skip_modules") or [])
    if train_projector:
        skips += part_prefixes(bundle, "projector")
    return list(dict.fromkeys(skips))


def bnb_config(family: Family, settings: dict[str, Any], *, train_projector: bool = False) -> Any:
    """A ``BitsAndBytesConfig`` for loading a real checkpoint in 4 bits with QLoRA ``settings``.

    Heads (``family.anatomy.head``), ``settings["skip_modules"]`` and, with ``train_projector``,
    the family's projector prefixes stay in full precision. ``settings`` come from
    ``get_adapter("qlora").resolve_settings(...)`` (validated).
    """
    from transformers import BitsAndBytesConfig

    skips = [*family.anatomy.head, *(settings.get("skip_modules") or [])]
    if train_projector:
        skips += family.anatomy.projector
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=settings.get("quant_type", "nf4"),
        bnb_4bit_use_double_quant=settings.get("double_quant", True),
        bnb_4bit_compute_dtype=getattr(torch, settings.get("compute_dtype", "bfloat16")),
        llm_int8_skip_modules=list(dict.fromkeys(skips)),
    )
