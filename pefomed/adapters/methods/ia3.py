"""IA3 (Liu et al. 2022): learned vectors rescale the outputs of attention layers and inputs of MLPs."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.peft_method import PeftMethod


@register_adapter
class Ia3(PeftMethod):
    name = "ia3"
    params = {}

    def peft_config(self, bundle, request, targets):
        from peft import IA3Config

        # peft scales the *input* of feed-forward modules and the output of the others
        feedforward = [t for t in targets if bundle.family.layer_kind(t) == "mlp"]
        return IA3Config(target_modules=targets, feedforward_modules=feedforward)
