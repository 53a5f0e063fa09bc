"""Frozen: nothing trains (the zero-shot baseline); saving writes only pefomed_adapter.json."""
from __future__ import annotations

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.native import NativeMethod


@register_adapter
class Frozen(NativeMethod):
    name = "frozen"
    params = {}
    uses_layers = False
    trains_extras = False
    merge_reason = "nothing was trained, so there is nothing to fold in"

    def apply(self, bundle, request, state):
        pass

    def method_params(self, adapted):
        return {}

    def touched(self, adapted):
        return []
