"""Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2021), implemented here.

Why our own: peft has no bottleneck adapters, and AdapterHub's ``adapters`` 1.3.0 pins
transformers ~=4.57 and fails to import on transformers 5.x (it never covered these VLMs either;
see ../shared/notes/vlm-platform-facts.md). This package adds ``h + up(act(down(h)))`` after
chosen Linear sublayers by forward hooks, exactly the identity at init, saved as safetensors + JSON::

    config = BottleneckConfig("houlsby")                 # or "pfeiffer"
    sites = select_bottleneck_sites(bundle, ("language",), config.preset)
    attach_bottlenecks(bundle.model, sites, config)       # only the new params train
    save_bottlenecks(bundle.model, "out/adapter", config, sites)
    load_bottlenecks(fresh_model, "out/adapter")          # -> (config, sites)
    remove_bottlenecks(bundle.model)                      # back to the original modules

``houlsby`` puts an adapter after the attention output projection and after the FFN output of
every transformer layer; ``pfeiffer`` after the FFN output only. peft's ``save_pretrained`` does
not include these adapters: save them with :func:`save_bottlenecks`.
"""
from pefomed.adapters.bottleneck.config import ACTIVATIONS, PRESETS, BottleneckConfig
from pefomed.adapters.bottleneck.io import load_bottlenecks, save_bottlenecks
from pefomed.adapters.bottleneck.layer import (Bottleneck, attach_bottlenecks, attached_bottlenecks,
                                               bottleneck_parameter_count, bottleneck_state_dict,
                                               load_bottleneck_state_dict, remove_bottlenecks)
from pefomed.adapters.bottleneck.sites import select_bottleneck_sites, transformer_layers

__all__ = [
    "ACTIVATIONS", "PRESETS", "Bottleneck", "BottleneckConfig", "attach_bottlenecks",
    "attached_bottlenecks", "bottleneck_parameter_count", "bottleneck_state_dict",
    "load_bottleneck_state_dict", "load_bottlenecks", "remove_bottlenecks", "save_bottlenecks",
    "select_bottleneck_sites", "transformer_layers",
]
