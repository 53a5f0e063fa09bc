"""Shared behaviour of prefix and prompt tuning: virtual tokens for the language model.

They act on the language model's input (prompt tuning) or on its attention keys/values (prefix
tuning), so they can target the language part only, select no layers and cannot be merged.
"""
from __future__ import annotations

import inspect
from typing import Any

from pefomed.adapters.peft_method import PeftMethod
from pefomed.adapters.targets import modules_in_parts
from pefomed.errors import UnsupportedError


class PromptLearningMethod(PeftMethod):
    max_parts = ("language",)
    uses_layers = False
    targets_linear = False
    mergeable = False
    merge_reason = "its virtual tokens are extra inputs, not a change of weights"

    def targets(self, bundle, request):
        if bundle.family.task != "generate":
            raise UnsupportedError(
                f"{self.name} needs a generative language model, but {bundle.name} "
                f"({bundle.family.name}) classifies; use lora or another weight-based method"
            )
        return []

    def build(self, bundle, request):
        adapted = super().build(bundle, request)
        fix_generation_cache_name(adapted.model)
        return adapted

    def load(self, bundle, request, folder, record, trainable):
        adapted = super().load(bundle, request, folder, record, trainable)
        fix_generation_cache_name(adapted.model)
        return adapted

    def peft_kwargs(self, request) -> dict:
        """Keywords common to peft's prompt-learning configs."""
        return {"task_type": "CAUSAL_LM", "num_virtual_tokens": request.settings["num_virtual_tokens"]}

    def language_modules(self, adapted, kind: str) -> list[str]:
        """Full names of the language model's modules whose class name ends with ``kind``."""
        return [n for n, m in modules_in_parts(adapted.bundle, ("language",), adapted.base)
                if type(m).__name__.endswith(kind)]


def fix_generation_cache_name(peft_model: Any) -> None:
    """Let peft's prompt-learning generation see transformers 5's ``cache`` argument.

    transformers 5 renamed ``past_key_values`` to ``cache``; peft 0.21 still looks for the old
    name while generating, so it finds no cache: prefix tuning's virtual keys/values are passed
    under the old name and ignored, and prompt tuning re-inserts its virtual tokens at every
    step. We rename the cache to the old name on the way into peft's hook and back on the way
    out; with a transformers that still says ``past_key_values`` this does nothing.
    """
    from transformers import GenerationMixin

    if "cache" not in inspect.signature(GenerationMixin.prepare_inputs_for_generation).parameters:
        return
    base_prepare = peft_model.base_model_prepare_inputs_for_generation
    peft_prepare = peft_model.prepare_inputs_for_generation

    def base_side(*args: Any, **kwargs: Any) -> dict:
        out = base_prepare(*args, **kwargs)
        if "cache" in out:
            out["past_key_values"] = out.pop("cache")
        return out

    def peft_side(*args: Any, **kwargs: Any) -> dict:
        out = peft_prepare(*args, **kwargs)
        if "past_key_values" in out:
            out["cache"] = out.pop("past_key_values")
        return out

    peft_model.base_model_prepare_inputs_for_generation = base_side
    peft_model.prepare_inputs_for_generation = peft_side
