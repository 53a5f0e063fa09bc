"""pefomed: parameter-efficient fine-tuning of medical vision-language models.

The public API, imported lazily so that ``import pefomed`` stays cheap::

    import pefomed
    bundle = pefomed.create_model("tiny-llava")
    adapted = pefomed.inject(bundle, "lora", parts=("language",), layers="attention")
    split = pefomed.load_dataset("vqa-rad", split="test")
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Names here must not clash with subpackages (pefomed.train is one): importing a subpackage sets
# the attribute of the same name on the package and would shadow a lazy function.
_API = {
    "create_model": "pefomed.models.registry",
    "list_models": "pefomed.models.registry",
    "register_model": "pefomed.models.registry",
    "ModelBundle": "pefomed.models.base",
    "inject": "pefomed.adapters",
    "load_adapted": "pefomed.adapters",
    "list_adapters": "pefomed.adapters",
    "get_adapter": "pefomed.adapters",
    "AdaptedModel": "pefomed.adapters",
    "load_dataset": "pefomed.data",
    "list_datasets": "pefomed.data",
    "VQARecord": "pefomed.data.record",
    "evaluate": "pefomed.evaluation",
    "score": "pefomed.evaluation",
    "predict": "pefomed.evaluation",
    "Question": "pefomed.evaluation",
    "load_questions": "pefomed.evaluation",
    "export_model": "pefomed.export",
    "convert_llava_med": "pefomed.export",
    "Budget": "pefomed.train",
    "TrainConfig": "pefomed.train",
    "RunSpec": "pefomed.train.recipe",
    "run_finetune": "pefomed.train.recipe",
    "PefomedError": "pefomed.errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'pefomed' has no attribute {name!r}")
