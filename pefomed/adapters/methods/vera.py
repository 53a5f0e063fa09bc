"""VeRA (Kopiczko et al. 2024): frozen random low-rank matrices shared by all layers, trained scales."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.params import Param
from pefomed.adapters.peft_method import PeftMethod


@register_adapter
class Vera(PeftMethod):
    name = "vera"
    params = {
        "r": Param("int", low=1, help="rank of the shared random matrices (cheap: they are not trained)",
                   bound="width"),
        "vera_dropout": Param("float", low=0, high=1, high_open=True, help="dropout on the adapter's input"),
        "d_initial": Param("float", low=0, low_open=True, help="initial value of the per-rank scale vector"),
        "projection_prng_key": Param("int", low=0, help="seed of the shared random matrices"),
        "save_projection": Param("bool", help="store the random matrices with the adapter (safe reloads)"),
    }

    def peft_config(self, bundle, request, targets):
        from peft import VeraConfig

        return VeraConfig(target_modules=targets, **request.settings)
