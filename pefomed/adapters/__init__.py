"""One adapter API for every method and model family.

    from pefomed.adapters import list_adapters, get_adapter, inject, load_adapted, AdaptedModel

    adapted = inject(bundle, "lora", parts=("language",), layers="attention", settings={"r": 16})
    adapted.trainable_by_part(); adapted.save("out/adapter")
    again = load_adapted(create_model("tiny-llava"), "out/adapter")

Methods live in :mod:`pefomed.adapters.methods` (one module each); their defaults, allowed parts
and search spaces are data in ``adapters/<method>.yaml``.
"""
from pefomed.adapters.catalogue import ADAPTERS, AdapterMethod, get_adapter, list_adapters, register_adapter
from pefomed.adapters.handle import AdaptedModel
from pefomed.adapters.inject import inject
from pefomed.adapters.persist import load_adapted

__all__ = ["ADAPTERS", "AdaptedModel", "AdapterMethod", "get_adapter", "inject", "list_adapters",
           "load_adapted", "register_adapter"]
