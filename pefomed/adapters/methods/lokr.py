"""LoKr (Yeh et al. 2023): the weight update is a Kronecker product of a small and a low-rank factor."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.methods.loha import LYCORIS_PARAMS
from pefomed.adapters.params import Param
from pefomed.adapters.peft_method import PeftMethod


@register_adapter
class Lokr(PeftMethod):
    name = "lokr"
    params = {
        **LYCORIS_PARAMS,
        "decompose_both": Param("bool", help="also factor the small Kronecker factor into low rank"),
        "decompose_factor": Param("int", low=-1, help="size of the small factor; -1 picks it automatically"),
    }

    def check(self, settings):
        if settings["decompose_factor"] == 0:
            return ["decompose_factor must be -1 (automatic) or >= 1, but got decompose_factor=0"]
        return []

    def peft_config(self, bundle, request, targets):
        from peft import LoKrConfig

        return LoKrConfig(target_modules=targets, **request.settings)
