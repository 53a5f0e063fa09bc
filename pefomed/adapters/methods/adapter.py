"""Bottleneck adapters (Houlsby et al. 2019 / Pfeiffer et al. 2021) after transformer sublayers.

``preset`` picks the sites (houlsby: attention and FFN outputs; pfeiffer: FFN outputs) and,
through ``adapters/adapter.yaml``, its customary settings. The modules come from
:mod:`pefomed.adapters.bottleneck`; peft has no such method, so they are saved as safetensors.
"""
from __future__ import annotations

from pefomed.adapters.bottleneck.config import ACTIVATIONS, PRESETS
from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.native import NativeMethod
from pefomed.adapters.params import Param


@register_adapter
class BottleneckAdapter(NativeMethod):
    name = "adapter"
    params = {
        "preset": Param("str", choices=tuple(PRESETS), help="where adapters go, and their defaults"),
        "reduction_factor": Param("int", low=1, help="bottleneck width = hidden // reduction_factor"),
        "non_linearity": Param("str", choices=ACTIVATIONS, nullable=True,
                               help="activation inside the bottleneck (null: the preset's)"),
        "init_scale": Param("float", low=0, low_open=True, help="std of the down-projection's init"),
        "dropout": Param("float", low=0, high=1, high_open=True, help="dropout on the adapter's output"),
    }
    uses_layers = False
    targets_linear = True
    merge_reason = "a bottleneck is non-linear (down, activation, up), so it cannot fold into a weight"

    def dry_run(self, bundle, request):
        from pefomed.adapters.bottleneck import select_bottleneck_sites

        select_bottleneck_sites(bundle, request.parts, request.settings["preset"])

    def apply(self, bundle, request, state):
        from pefomed.adapters.bottleneck import BottleneckConfig, attach_bottlenecks, select_bottleneck_sites

        config = BottleneckConfig(**request.settings)
        sites = select_bottleneck_sites(bundle, request.parts, config.preset)
        state["sites"] = attach_bottlenecks(bundle.model, sites, config)

    def method_params(self, adapted):
        from pefomed.adapters.bottleneck import attached_bottlenecks

        return {f"{site}.bottleneck.{key}": p for site, module in attached_bottlenecks(adapted.base).items()
                for key, p in module.named_parameters()}

    def touched(self, adapted):
        return list(adapted.state["sites"])
