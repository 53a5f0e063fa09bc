"""Full fine-tuning of the chosen parts: every weight in them trains (the upper baseline)."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.native import NativeMethod, params_under
from pefomed.adapters.targets import head_prefixes, part_prefixes


@register_adapter
class Full(NativeMethod):
    name = "full"
    params = {}
    uses_layers = False
    merge_reason = "its weights are the model itself; there is nothing separate to fold in"

    def apply(self, bundle, request, state):
        state["prefixes"] = self._prefixes(bundle, request.parts)

    def method_params(self, adapted):
        return params_under(adapted.base, adapted.state["prefixes"])

    def touched(self, adapted):
        return list(adapted.state["prefixes"])

    @staticmethod
    def _prefixes(bundle, parts):
        # the output head is the language model's last layer: it trains with the language part
        prefixes = [p for part in parts for p in part_prefixes(bundle, part)]
        return prefixes + (head_prefixes(bundle) if "language" in parts else [])
