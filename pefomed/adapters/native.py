"""Shared behaviour of the methods peft does not provide (bottleneck adapters, full, frozen).

They change the transformers model in place and save the tensors they own as safetensors
(``adapter.safetensors``, names relative to the model) beside ``pefomed_adapter.json``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from pefomed.adapters.catalogue import AdapterMethod
from pefomed.adapters.handle import AdaptedModel, Request
from pefomed.adapters.targets import extra_trainable
from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle

WEIGHTS_FILE = "adapter.safetensors"


class NativeMethod(AdapterMethod):
    """A method pefomed implements itself: it freezes the model, then unfreezes what it owns."""

    peft_backed = False
    mergeable = False
    targets_linear = False
    #: whether the projector (train_projector) and a classifier head train besides the method
    trains_extras = True

    def apply(self, bundle: ModelBundle, request: Request, state: dict[str, Any]) -> None:
        """Change the (already frozen) model: attach modules, unfreeze what trains (subclasses)."""
        raise NotImplementedError

    def method_params(self, adapted: AdaptedModel) -> dict[str, nn.Parameter]:
        """The parameters the method itself trains, by name in the model (subclasses)."""
        raise NotImplementedError

    def owned(self, adapted: AdaptedModel) -> dict[str, nn.Parameter]:
        """Everything trained and saved: the method's parameters, plus the projector if asked
        and a classifier head (see :func:`~pefomed.adapters.targets.extra_trainable`)."""
        owned = dict(self.method_params(adapted))
        if self.trains_extras:
            owned.update(params_under(adapted.base, extra_trainable(adapted.bundle, adapted.request)))
        return owned

    def build(self, bundle: ModelBundle, request: Request) -> AdaptedModel:
        state: dict[str, Any] = {}
        bundle.model.requires_grad_(False)
        self.apply(bundle, request, state)
        adapted = AdaptedModel(bundle, self, request, bundle.model, state)
        for p in self.owned(adapted).values():
            p.requires_grad_(True)
        return adapted

    def saved_tensors(self, adapted: AdaptedModel) -> dict[str, Any]:
        return dict(self.owned(adapted))

    def save(self, adapted: AdaptedModel, folder: Path) -> dict[str, Any]:
        from safetensors.torch import save_file

        tensors = {n: p.detach().to("cpu").contiguous().clone() for n, p in self.owned(adapted).items()}
        if tensors:
            save_file(tensors, str(folder / WEIGHTS_FILE))
        return {}

    def load(self, bundle: ModelBundle, request: Request, folder: Path, record: dict,
             trainable: bool) -> AdaptedModel:
        import torch
        from safetensors.torch import load_file

        adapted = self.build(bundle, request)
        owned = self.owned(adapted)
        path = folder / WEIGHTS_FILE
        saved = load_file(str(path)) if path.is_file() else {}
        missing, unexpected = sorted(set(owned) - set(saved)), sorted(set(saved) - set(owned))
        wrong = [n for n in owned if n in saved and tuple(saved[n].shape) != tuple(owned[n].shape)]
        if missing or unexpected or wrong:
            what = (f"the file lacks {len(missing)} of its {len(owned)} tensors (e.g. {missing[0]})"
                    if missing else
                    f"{len(unexpected)} tensors it has no place for (e.g. {unexpected[0]})" if unexpected else
                    f"tensor {wrong[0]} of shape {list(saved[wrong[0]].shape)} where the model has "
                    f"{list(owned[wrong[0]].shape)}")
            raise PefomedError(
                f"{path} does not fit {bundle.name} with {self.name}: {what}; it was saved from "
                f"{record.get('model', 'another model')}: load it onto that model, or restore the file"
            )
        with torch.no_grad():
            for name, p in owned.items():
                p.copy_(saved[name].to(p.device, p.dtype))
        if not trainable:
            bundle.model.requires_grad_(False)
        return adapted


def params_under(model: nn.Module, prefixes: list[str]) -> dict[str, nn.Parameter]:
    """Parameters whose name lies under one of ``prefixes`` (tied copies once, first name)."""
    return {n: p for n, p in model.named_parameters()
            if any(n == pre or n.startswith(pre + ".") for pre in prefixes)}
