"""An adapted model as one plain transformers model: merged (peft methods) or as trained (full).

QLoRA merges into a full-precision copy of the base: the base is quantized exactly as in
training, then de-quantized, and LoRA folds into those weights; the result computes what the
4-bit model computed, without re-quantizing (merging into 4-bit weights would drift).
"""
from __future__ import annotations

from typing import Any

from pefomed.errors import UnsupportedError
from pefomed.export.source import AdapterSource, load_adapted_source, load_base

#: native methods whose trained weights are the model itself
AS_TRAINED = ("full", "frozen")


def check_exportable(source: AdapterSource) -> None:
    """Raise (one line, naming the alternative) if ``source``'s method cannot become a standalone model."""
    from pefomed.adapters import get_adapter

    entry = get_adapter(source.record["method"])
    if entry.name in AS_TRAINED or (entry.peft_backed and entry.mergeable):
        return
    if entry.peft_backed:
        alternative = ("load the adapter folder with peft (PeftModel.from_pretrained(base, folder)) "
                       "or with pefomed (pefomed predict --adapter-dir)")
    else:
        alternative = "load the adapter folder with pefomed (load_adapted, or pefomed predict --adapter-dir)"
    raise UnsupportedError(f"{entry.name} cannot be exported as a standalone model: {entry.merge_reason}; "
                           f"{alternative}")


def merged_bundle(source: AdapterSource, *, model: str | None = None, family: str | None = None) -> Any:
    """A :class:`~pefomed.models.base.ModelBundle` whose ``model`` is a plain transformers model
    computing what the adapted model computes."""
    check_exportable(source)
    method = source.record["method"]
    if method == "qlora":
        return _qlora_merged(source, model=model, family=family)
    adapted = load_adapted_source(source, model=model, family=family)
    bundle = adapted.bundle
    if method not in AS_TRAINED:
        bundle.model = adapted.model.merge_and_unload()
    bundle.model.requires_grad_(False)
    return bundle


def _qlora_merged(source: AdapterSource, *, model: str | None, family: str | None) -> Any:
    from peft import PeftModel

    from pefomed.adapters import get_adapter
    from pefomed.adapters.handle import Request
    from pefomed.adapters.quantize import dequantize_4bit

    bundle = load_base(source, model=model, family=family)
    entry = get_adapter("qlora")
    record = source.record
    request = Request(parts=tuple(record["parts"]), layers=record["layers"],
                      settings=entry.resolve_settings(record["settings"]),
                      train_projector=bool(record["train_projector"]))
    entry.prepare_base(bundle, request, {})  # the same 4-bit weights training saw
    dequantize_4bit(bundle.model)
    if getattr(bundle.model, "is_loaded_in_4bit", False):
        bundle.model.is_loaded_in_4bit = False
    if getattr(bundle.model.config, "quantization_config", None) is not None:
        raise UnsupportedError(f"{bundle.name} was loaded quantized; export needs the full-precision base "
                               "(load it without quantization_config)")
    bundle.model.requires_grad_(False)
    bundle.model = PeftModel.from_pretrained(bundle.model, str(source.adapter_dir)).merge_and_unload()
    bundle.model.requires_grad_(False)
    return bundle
