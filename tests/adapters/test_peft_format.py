"""Saved peft adapters are plain peft: ``PeftModel.from_pretrained`` loads them without pefomed."""
from __future__ import annotations

import json

import pytest
import torch

from pefomed.adapters import get_adapter, inject, list_adapters
from pefomed.adapters.persist import RECORD_FILE
from pefomed.adapters.quantize import dequantize_4bit, quantization_skips, quantize_4bit
from pefomed.models.registry import create_model
from tests.adapters.conftest import make_batch, max_diff, outputs

PEFT_METHODS = [m for m in list_adapters() if get_adapter(m).peft_backed]


def _trained(method: str, **kwargs):
    """tiny-llava with ``method`` injected and moved off its init by one Adam step."""
    bundle = create_model("tiny-llava", seed=0)
    adapted = inject(bundle, method, **kwargs)
    batch = make_batch(bundle)
    adapted.prepare_for_training(total_steps=4)
    params = [p for p in adapted.model.parameters() if p.requires_grad]
    adapted.model(**batch).loss.backward()
    torch.optim.Adam(params, lr=1e-2).step()
    adapted.model.eval()
    return adapted, batch


def _plain_base(method: str, settings: dict):
    """A fresh tiny-llava as plain peft would see it (QLoRA: its base quantized the same way)."""
    bundle = create_model("tiny-llava", seed=0)
    if method == "qlora":
        quantize_4bit(bundle.model, quantization_skips(bundle, settings, False), quant_type=settings["quant_type"],
                      double_quant=settings["double_quant"], compute_dtype=settings["compute_dtype"])
    return bundle.model


@pytest.mark.parametrize("method", PEFT_METHODS)
def test_plain_peft_loads_what_pefomed_saved(method: str, tmp_path) -> None:
    from peft import PeftModel

    adapted, batch = _trained(method)
    reference = outputs(adapted.model, batch)
    adapted.save(tmp_path)
    assert {"adapter_config.json", "adapter_model.safetensors", RECORD_FILE} <= {f.name for f in tmp_path.iterdir()}
    record = json.loads((tmp_path / RECORD_FILE).read_text())
    assert (record["method"], record["parts"], record["layers"]) == (method, ["language"], adapted.layers)
    assert record["settings"] == adapted.settings

    plain = PeftModel.from_pretrained(_plain_base(method, adapted.settings), str(tmp_path)).eval()
    assert max_diff(outputs(plain, batch), reference) <= 1e-6


def test_projector_trained_with_peft_is_saved_with_the_adapter(tmp_path) -> None:
    from peft import PeftModel

    adapted, batch = _trained("lora", train_projector=True)
    reference = outputs(adapted.model, batch)
    adapted.save(tmp_path)
    plain = PeftModel.from_pretrained(create_model("tiny-llava", seed=0).model, str(tmp_path)).eval()
    assert max_diff(outputs(plain, batch), reference) <= 1e-6


def test_qlora_merges_exactly_into_a_full_precision_copy(tmp_path) -> None:
    from peft import PeftModel

    adapted, batch = _trained("qlora")
    reference = outputs(adapted.model, batch)
    adapted.save(tmp_path)
    base = _plain_base("qlora", adapted.settings)
    dequantize_4bit(base)  # the very weights the 4-bit base computes with, in fp32
    restored = PeftModel.from_pretrained(base, str(tmp_path)).eval()
    assert max_diff(outputs(restored, batch), reference) <= 1e-5
    merged = restored.merge_and_unload()
    assert not [m for m in merged.modules() if "lora" in type(m).__module__]
    assert max_diff(outputs(merged, batch), reference) <= 1e-5


def test_qlora_uses_a_base_already_in_4bit_and_guards_what_must_stay_full(tmp_path) -> None:
    from pefomed.errors import UnsupportedError

    bundle = create_model("tiny-llava", seed=0)
    quantize_4bit(bundle.model, ["lm_head"])  # as a checkpoint loaded with bnb_config would be
    with pytest.raises(UnsupportedError, match="model.multi_modal_projector.linear_1 in 4 bits"):
        inject(bundle, "qlora", train_projector=True)
    adapted = inject(bundle, "qlora")
    assert adapted.state["quantized"] == "at load" and adapted.trainable_parameters() == 8192


def test_bnb_config_keeps_heads_and_skips_as_full_prefixes() -> None:
    from pefomed.adapters.quantize import bnb_config
    from pefomed.models.registry import get_family

    settings = get_adapter("qlora").resolve_settings({"skip_modules": ["model.vision_tower"],
                                                      "compute_dtype": "bfloat16"})
    config = bnb_config(get_family("llava"), settings, train_projector=True)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4" and config.bnb_4bit_use_double_quant
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
    assert config.llm_int8_skip_modules == ["lm_head", "model.vision_tower", "model.multi_modal_projector"]
