"""AdaLoRA (Zhang et al. 2023): LoRA in SVD form whose rank budget is reallocated while training.

It needs the total number of steps (``prepare_for_training``) and a call to
``update_and_allocate(step)`` after every optimizer step (``on_step``), before gradients are
zeroed: the importance scores are read from the gradients.
"""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.params import Param
from pefomed.adapters.peft_method import PeftMethod
from pefomed.errors import PefomedError


@register_adapter
class Adalora(PeftMethod):
    name = "adalora"
    params = {
        "init_r": Param("int", low=1, help="rank each layer starts with", bound="width"),
        "target_r": Param("int", low=1, help="average rank kept after reallocation", bound="width"),
        "lora_alpha": Param("float", low=0, low_open=True, help="scale numerator"),
        "lora_dropout": Param("float", low=0, high=1, high_open=True, help="dropout on the adapter's input"),
        "tinit": Param("int", low=0, help="warm-up steps before ranks are pruned"),
        "tfinal": Param("int", low=0, help="final steps with ranks fixed"),
        "deltaT": Param("int", low=1, help="steps between two reallocations"),
        "beta1": Param("float", low=0, high=1, high_open=True, help="EMA factor of importance"),
        "beta2": Param("float", low=0, high=1, high_open=True, help="EMA factor of uncertainty"),
        "orth_reg_weight": Param("float", low=0, help="weight of the orthogonality penalty"),
    }

    def check(self, settings):
        if settings["target_r"] > settings["init_r"]:
            return [f"target_r <= init_r must hold, but got (target_r={settings['target_r']}, "
                    f"init_r={settings['init_r']})"]
        return []

    def peft_config(self, bundle, request, targets):
        from peft import AdaLoraConfig

        s = request.settings
        # the real total arrives with prepare_for_training(); peft refuses to build without one
        placeholder = s["tinit"] + s["tfinal"] + 1
        return AdaLoraConfig(target_modules=targets, total_step=placeholder, **s)

    def prepare_for_training(self, adapted, total_steps):
        s = adapted.request.settings
        if not s["tinit"] < total_steps - s["tfinal"]:
            raise PefomedError(
                f"AdaLoRA needs tinit < total_steps - tfinal (a budgeting phase), but got "
                f"(tinit={s['tinit']}, tfinal={s['tfinal']}, total_steps={total_steps}); "
                "lower tinit/tfinal with --set or train longer"
            )
        config = adapted.model.peft_config["default"]
        config.total_step = total_steps  # the rank allocator holds this same config object

    def on_step(self, adapted, step):
        if adapted.total_steps is None:
            raise PefomedError("AdaLoRA: call prepare_for_training(total_steps) before on_step(step)")
        adapted.model.base_model.update_and_allocate(step)
