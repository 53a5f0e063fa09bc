"""QLoRA (Dettmers et al. 2023): LoRA on a frozen base whose Linear weights are 4-bit NF4.

Heads and ``skip_modules`` (FULL module prefixes, e.g. ``model.vision_tower``) stay in full
precision, and so does the projector when ``train_projector`` is set. A model built in full
precision is quantized in place; a checkpoint loaded with :func:`pefomed.adapters.quantize.bnb_config`
is used as is. Merging folds LoRA into the 4-bit weights and re-quantizes them, so merged outputs
drift slightly; for an exact merge, dequantize a copy of the base first
(:func:`pefomed.adapters.quantize.dequantize_4bit`).
"""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.methods.lora import LORA_PARAMS
from pefomed.adapters.params import Param, raise_if
from pefomed.adapters.peft_method import PeftMethod, lora_kwargs
from pefomed.adapters.quantize import (check_skip_modules, is_quantized, keep_cpu_format, linears_to_quantize,
                                      quantization_skips, quantize_4bit)
from pefomed.models.meta import is_meta
from pefomed.errors import UnsupportedError


@register_adapter
class Qlora(PeftMethod):
    name = "qlora"
    params = {
        **LORA_PARAMS,
        "quant_type": Param("str", choices=("nf4", "fp4"), help="4-bit data type of the base weights"),
        "double_quant": Param("bool", help="also quantize the quantization constants (saves ~0.4 bit/weight)"),
        "compute_dtype": Param("str", choices=("float32", "bfloat16", "float16"),
                               help="dtype the 4-bit weights are dequantized to for matmuls"),
        "skip_modules": Param("str_list", help="FULL module prefixes kept in full precision"),
    }

    def prepare_base(self, bundle, request, state):
        s = request.settings
        raise_if(check_skip_modules(bundle, s["skip_modules"]), "invalid qlora settings")
        skips = quantization_skips(bundle, s, request.train_projector)
        state["kept_full_precision"] = skips
        if is_quantized(bundle.model):  # loaded in 4 bits already (bnb_config)
            packed = [n for n, m in bundle.model.named_modules()
                      if type(m).__name__ == "Linear4bit" and any(n == p or n.startswith(p + ".") for p in skips)]
            if packed:
                raise UnsupportedError(
                    f"{bundle.name} was loaded with {packed[0]} in 4 bits, but it must stay in full precision "
                    "(a head, skip_modules or the trained projector); reload with "
                    "pefomed.adapters.quantize.bnb_config(family, settings, train_projector=...)"
                )
            keep_cpu_format(bundle.model)
            state["quantized"] = "at load"
            return
        if is_meta(bundle.model):  # no weights to quantize: account for it (plan, inspect)
            state["quantized"] = linears_to_quantize(bundle.model, skips)
            state["accounted_only"] = True
            return
        state["quantized"] = quantize_4bit(bundle.model, skips, quant_type=s["quant_type"],
                                           double_quant=s["double_quant"], compute_dtype=s["compute_dtype"])

    def peft_config(self, bundle, request, targets):
        from peft import LoraConfig

        return LoraConfig(target_modules=targets, **lora_kwargs(request.settings))

    def save(self, adapted, folder):
        super().save(adapted, folder)
        # what plain peft users must keep out of 4 bits to rebuild the base (quantize_4bit)
        return {"kept_full_precision": adapted.state["kept_full_precision"]}
