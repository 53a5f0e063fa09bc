"""LoRA (Hu et al. 2021): a trainable low-rank update ``B @ A`` beside each targeted Linear."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.params import Param
from pefomed.adapters.peft_method import PeftMethod, lora_kwargs

#: settings shared by lora, dora and qlora
LORA_PARAMS: dict[str, Param] = {
    "r": Param("int", low=1, help="rank of the update", bound="width"),
    "lora_alpha": Param("float", low=0, low_open=True, help="scale numerator: update * lora_alpha / r"),
    "lora_dropout": Param("float", low=0, high=1, high_open=True, help="dropout on the adapter's input"),
    "bias": Param("str", choices=("none", "all", "lora_only"), help="which biases also train"),
    "use_rslora": Param("bool", help="scale by lora_alpha / sqrt(r) (rank-stabilised LoRA)"),
}


@register_adapter
class Lora(PeftMethod):
    name = "lora"
    params = LORA_PARAMS

    def peft_config(self, bundle, request, targets):
        from peft import LoraConfig

        return LoraConfig(target_modules=targets, **lora_kwargs(request.settings))
