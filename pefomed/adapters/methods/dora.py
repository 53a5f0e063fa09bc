"""DoRA (Liu et al. 2024): LoRA on the direction of each weight plus a trained magnitude vector."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.methods.lora import LORA_PARAMS
from pefomed.adapters.peft_method import PeftMethod, lora_kwargs


@register_adapter
class Dora(PeftMethod):
    name = "dora"
    params = LORA_PARAMS

    def peft_config(self, bundle, request, targets):
        from peft import LoraConfig

        return LoraConfig(target_modules=targets, use_dora=True, **lora_kwargs(request.settings))
