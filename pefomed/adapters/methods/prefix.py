"""Prefix tuning (Li & Liang 2021): trained key/value vectors prepended in every attention layer."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.params import Param
from pefomed.adapters.prompt_learning import PromptLearningMethod


@register_adapter
class PrefixTuning(PromptLearningMethod):
    name = "prefix"
    parts_reason = ("prefix tuning adds virtual key/value tokens to the language model's attention only; "
                    "use parts=('language',)")
    params = {
        "num_virtual_tokens": Param("int", low=1, help="length of the prefix", bound="positions"),
        "prefix_projection": Param("bool", help="reparametrise the prefix through a small MLP"),
        "encoder_hidden_size": Param("int", low=1, nullable=True,
                                     help="hidden width of that MLP (null: the model's width)"),
    }

    def peft_config(self, bundle, request, targets):
        from peft import PrefixTuningConfig

        s = request.settings
        return PrefixTuningConfig(prefix_projection=s["prefix_projection"],
                                  encoder_hidden_size=s["encoder_hidden_size"], **self.peft_kwargs(request))

    def touched(self, adapted):
        return self.language_modules(adapted, "Attention")
