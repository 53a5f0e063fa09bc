"""Shared behaviour of the peft-backed methods: build, save/load in peft's format, merge.

Targets go to peft as FULL module names (``model.language_model.layers.0.self_attn.q_proj``):
peft matches a listed name exactly or as a dotted suffix, and a full name is a suffix of
nothing else, so no vision module can be caught by accident.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pefomed.adapters.catalogue import AdapterMethod
from pefomed.adapters.handle import AdaptedModel, Request
from pefomed.adapters.targets import extra_trainable, linear_targets, require_targets
from pefomed.models.base import ModelBundle


class PeftMethod(AdapterMethod):
    """A method whose weights peft creates, saves (adapter_config.json + safetensors) and merges."""

    peft_backed = True
    mergeable = True

    def peft_config(self, bundle: ModelBundle, request: Request, targets: list[str]) -> Any:
        """The peft config for these settings and targets (subclasses)."""
        raise NotImplementedError

    def targets(self, bundle: ModelBundle, request: Request) -> list[str]:
        """Full names of the modules to adapt: Linear layers of the chosen parts and kind."""
        found = linear_targets(bundle, request.parts, request.layers)
        return require_targets(found, self.name, bundle, request.parts, f"{request.layers} Linear layers",
                               "try layers='all-linear' or other parts")

    def prepare_base(self, bundle: ModelBundle, request: Request, state: dict[str, Any]) -> None:
        """Change the base model before peft wraps it (QLoRA quantizes); nothing by default."""

    def dry_run(self, bundle: ModelBundle, request: Request) -> None:
        self.targets(bundle, request)

    def build(self, bundle: ModelBundle, request: Request) -> AdaptedModel:
        from peft import get_peft_model

        state: dict[str, Any] = {}
        targets = self.targets(bundle, request)
        self.prepare_base(bundle, request, state)
        config = self.peft_config(bundle, request, targets)
        config.modules_to_save = modules_to_save(bundle, request)
        base = bundle.model
        freeze(base)
        bundle.model = get_peft_model(base, config)
        return AdaptedModel(bundle, self, request, base, state)

    def load(self, bundle: ModelBundle, request: Request, folder: Path, record: dict,
             trainable: bool) -> AdaptedModel:
        from peft import PeftModel

        state: dict[str, Any] = {}
        self.prepare_base(bundle, request, state)
        base = bundle.model
        freeze(base)
        bundle.model = PeftModel.from_pretrained(base, str(folder), is_trainable=trainable)
        if not trainable:  # peft leaves prompt encoders trainable even then
            bundle.model.requires_grad_(False)
        return AdaptedModel(bundle, self, request, base, state)

    def save(self, adapted: AdaptedModel, folder: Path) -> dict[str, Any]:
        adapted.model.save_pretrained(str(folder), safe_serialization=True)
        return {}

    weights_file = "adapter_model.safetensors"

    def tensor_shapes(self, adapted: AdaptedModel) -> dict[str, tuple[int, ...]] | None:
        from peft.utils import get_peft_model_state_dict

        return {k: tuple(v.shape) for k, v in get_peft_model_state_dict(adapted.model).items()}

    def saved_tensors(self, adapted: AdaptedModel) -> dict[str, Any]:
        from peft.utils import get_peft_model_state_dict

        return dict(get_peft_model_state_dict(adapted.model))

    def touched(self, adapted: AdaptedModel) -> list[str]:
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils.other import AuxiliaryTrainingWrapper

        return [n for n, m in adapted.base.named_modules()
                if isinstance(m, (BaseTunerLayer, AuxiliaryTrainingWrapper))]

    def merge(self, adapted: AdaptedModel) -> None:
        adapted.model.base_model.merge_adapter()

    def unmerge(self, adapted: AdaptedModel) -> None:
        adapted.model.base_model.unmerge_adapter()


def modules_to_save(bundle: ModelBundle, request: Request) -> list[str] | None:
    """Modules peft trains fully and saves with the adapter (:func:`~pefomed.adapters.targets.extra_trainable`).

    Only *modules* can be listed; bare parameters (BLIP-2's ``query_tokens``) stay frozen
    under peft methods.
    """
    modules = {n for n, _ in bundle.model.named_modules()}
    return [p for p in extra_trainable(bundle, request) if p in modules] or None


def lora_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """The LoraConfig keywords shared by lora, dora and qlora."""
    keys = ("r", "lora_alpha", "lora_dropout", "bias", "use_rslora")
    return {k: settings[k] for k in keys if k in settings}


def freeze(base) -> None:
    """Freeze every base weight before peft wraps the model.

    peft's prompt learning freezes only the model's child modules: a bare parameter on the model
    itself (BLIP-2's ``query_tokens``) would otherwise train without being saved.
    """
    base.requires_grad_(False)
