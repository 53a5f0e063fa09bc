"""LayerNorm tuning (Zhao et al. 2024): train only the normalisation layers of the chosen parts."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.peft_method import PeftMethod
from pefomed.adapters.targets import norm_targets, require_targets


@register_adapter
class LayerNormTuning(PeftMethod):
    name = "ln"
    params = {}
    uses_layers = False
    targets_linear = False

    def targets(self, bundle, request):
        return require_targets(norm_targets(bundle, request.parts), self.name, bundle, request.parts,
                               "normalisation layers", "choose parts that have LayerNorm/RMSNorm layers")

    def peft_config(self, bundle, request, targets):
        from peft import LNTuningConfig

        return LNTuningConfig(target_modules=targets)
