"""``export_model``: a standalone transformers folder that answers like pefomed."""
from __future__ import annotations

import json

import pytest
import torch
import transformers
from PIL import Image

from pefomed.adapters import load_adapted
from pefomed.errors import PefomedError, UnsupportedError
from pefomed.evaluation import predict
from pefomed.export import export_model, prompt_template
from pefomed.models.registry import create_model

from tests.export.conftest import QUESTIONS, saved_adapter


def plain_answers(folder, images, questions, template):
    """Greedy answers of the exported folder with plain transformers only, one question at a time."""
    processor = transformers.AutoProcessor.from_pretrained(str(folder))
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(folder)).eval()
    out = []
    for path, question in zip(images, questions):
        inputs = processor(images=[Image.open(path).convert("RGB")], text=[template.format(question=question)],
                           return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        out.append(processor.tokenizer.decode(ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return out, model


@pytest.mark.parametrize("method,kwargs", [
    ("lora", {"settings": {"r": 4}, "train_projector": True}),
    ("qlora", {"settings": {"r": 4}}),
    ("ln", {}),
    ("full", {"parts": ["projector", "language"]}),
])
def test_export_gives_pefomed_answers_and_logits(method, kwargs, images, tmp_path):
    adapter = saved_adapter("tiny-llava", method, tmp_path / "adapter", **kwargs)
    out = export_model(adapter, tmp_path / "merged")
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "README.md",
            "pefomed_export.json", "tokenizer.json"} <= names
    assert not any(n.endswith((".bin", ".pt")) for n in names)

    adapted = load_adapted(create_model("tiny-llava"), adapter)
    ours = [p.prediction for p in predict(adapted, list(zip(images, QUESTIONS)), batch_size=1)]
    template = prompt_template(adapted.bundle.family)
    theirs, plain = plain_answers(out, images, QUESTIONS, template)
    assert theirs == ours
    assert type(plain).__name__ == "LlavaForConditionalGeneration"
    assert all(type(m).__name__ != "Linear4bit" for m in plain.modules())
    # same logits, not only the same argmax (QLoRA: the de-quantized base computes what 4 bits did)
    batch = adapted.bundle.family.encode(adapted.bundle, [Image.open(p).convert("RGB") for p in images], QUESTIONS)
    with torch.no_grad():
        a = adapted.model(**batch).logits
        b = plain(**batch).logits
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
    info = json.loads((out / "pefomed_export.json").read_text())
    assert info["method"] == method and info["dtype"] == "float32"


def test_export_bf16_halves_the_weights(tmp_path):
    adapter = saved_adapter("tiny-llava", "lora", tmp_path / "adapter", settings={"r": 4})
    fp32 = export_model(adapter, tmp_path / "fp32")
    bf16 = export_model(adapter, tmp_path / "bf16", dtype="bf16")
    ratio = (bf16 / "model.safetensors").stat().st_size / (fp32 / "model.safetensors").stat().st_size
    assert 0.45 < ratio < 0.55
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(bf16))
    assert next(model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("method,why,alternative", [
    ("adapter", "non-linear", "load the adapter folder with pefomed"),
    ("prefix", "virtual tokens", "PeftModel.from_pretrained"),
])
def test_unmergeable_methods_are_refused_before_building(method, why, alternative, tmp_path):
    adapter = saved_adapter("tiny-llava", method, tmp_path / "adapter")
    with pytest.raises(UnsupportedError, match=f"{method} cannot be exported.*{why}.*{alternative}") as info:
        export_model(adapter, tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_bad_input_is_one_line(tmp_path):
    adapter = saved_adapter("tiny-llava", "lora", tmp_path / "adapter", settings={"r": 2})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(PefomedError, match="already exists and is not empty"):
        export_model(adapter, tmp_path / "full")
    with pytest.raises(PefomedError, match="dtype must be one of"):
        export_model(adapter, tmp_path / "o", dtype="int3")
    with pytest.raises(PefomedError, match="is not a folder"):
        export_model(tmp_path / "nope", tmp_path / "o")
