"""LoHa (Hyeon-Woo et al. 2022): the weight update is a Hadamard product of two low-rank products."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.params import Param
from pefomed.adapters.peft_method import PeftMethod

#: settings shared by loha and lokr (LyCORIS family)
LYCORIS_PARAMS: dict[str, Param] = {
    "r": Param("int", low=1, help="rank", bound="width"),
    "alpha": Param("float", low=0, low_open=True, help="scale numerator: update * alpha / r"),
    "rank_dropout": Param("float", low=0, high=1, high_open=True, help="dropout over rank dimensions"),
    "module_dropout": Param("float", low=0, high=1, high_open=True, help="probability of skipping a module"),
}


@register_adapter
class Loha(PeftMethod):
    name = "loha"
    params = LYCORIS_PARAMS

    def peft_config(self, bundle, request, targets):
        from peft import LoHaConfig

        return LoHaConfig(target_modules=targets, **request.settings)
