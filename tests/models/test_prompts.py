"""Prompt templates: plain/chat/format/Jinja, answer-only labels, recorded and reloaded."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from pefomed.errors import PefomedError
from pefomed.models.generative import IGNORE_INDEX
from pefomed.models.prompts import PromptTemplate, apply_template, build_prompt, template_of
from pefomed.models.registry import create_model

#: a chat template in the Hugging Face style; {{ image }} is spelled per family below
CHAT = ("{% for m in messages %}<|user|>{% for c in m['content'] %}{% if c['type'] == 'image' %}IMG"
        "{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def _with_chat(name: str):
    bundle = create_model(name)
    bundle.processor.chat_template = CHAT.replace("IMG", bundle.family.image_placeholder)
    return bundle


def _answer_text(bundle, enc, row: int) -> str:
    ids, labels = enc["input_ids"][row], enc["labels"][row]
    return bundle.tokenizer.decode(ids[labels != IGNORE_INDEX])


def test_tiny_models_without_a_chat_template_keep_the_plain_prompt():
    bundle = create_model("tiny-llava")
    assert template_of(bundle) == PromptTemplate("plain", source="auto")
    assert build_prompt("is it?", bundle) == "<image>\nQuestion: is it? Answer:"


@pytest.mark.parametrize("name", ["tiny-llava", "tiny-qwen2-vl"])
def test_a_chat_template_is_the_default_and_labels_cover_only_the_answer(name):
    bundle = _with_chat(name)
    assert template_of(bundle).kind == "chat"
    prompt = build_prompt("is it?", bundle)
    assert prompt.startswith("<|user|>") and prompt.endswith("<|assistant|>\n") and "is it?" in prompt
    image = Image.new("RGB", (32, 32))
    enc = bundle.family.encode(bundle, [image, image], ["is it?", "what is shown?"], ["yes", "a small mass"])
    eos = bundle.tokenizer.eos_token
    assert _answer_text(bundle, enc, 0) == f"yes{eos}" and _answer_text(bundle, enc, 1) == f"a small mass{eos}"
    answers = bundle.family.generate(bundle, [image], ["is it?"], max_new_tokens=2)
    assert len(answers) == 1 and isinstance(answers[0], str)


def test_format_strings_and_their_errors():
    bundle = create_model("tiny-llava")
    apply_template(bundle, "Q: {question}\nA:")
    assert build_prompt("x?", bundle) == "<image>\nQ: x?\nA:"  # the image placeholder goes in front
    apply_template(bundle, "Q: {question}\\nA:")  # typed on a command line: backslash-n
    assert build_prompt("x?", bundle) == "<image>\nQ: x?\nA:"
    apply_template(bundle, "{question} -> {image}")
    assert build_prompt("x?", bundle) == "x? -> <image>\n"
    with pytest.raises(PefomedError, match="no \\{question\\} placeholder"):
        apply_template(bundle, "Q: {q}")
    with pytest.raises(PefomedError, match="bad placeholder.*'foo'"):
        apply_template(bundle, "{question} {foo}")
    with pytest.raises(PefomedError, match="has no chat template; use --prompt-template plain"):
        apply_template(bundle, "chat")
    with pytest.raises(PefomedError, match="family 'blip' takes the question alone"):
        apply_template(create_model("tiny-blip"), "Q: {question}")


def test_a_jinja_template_must_render_the_image_placeholder(tmp_path):
    bundle = create_model("tiny-qwen2-vl")
    path = tmp_path / "chat.jinja"
    path.write_text(CHAT.replace("IMG", ""))
    apply_template(bundle, str(path))
    assert template_of(bundle).kind == "jinja" and template_of(bundle).source == str(path)
    with pytest.raises(PefomedError, match="renders no image placeholder '<\\|vision_start\\|>"):
        build_prompt("x?", bundle)


def test_the_template_is_recorded_in_the_run_and_adapter_and_reloaded(tmp_path):
    from pefomed.adapters import load_adapted
    from pefomed.train import Budget, RunSpec, TrainConfig, run_finetune

    jinja = CHAT.replace("IMG", "<image>\n")
    spec = RunSpec(model="tiny-llava", dataset="synth-rad", adapter="lora", settings={"r": 2},
                   train=TrainConfig(batch_size=2, device="cpu"), budget=Budget(max_steps=2), train_limit=4,
                   eval_limit=2, prompt_template=jinja, out_dir=str(tmp_path / "run"))
    record = run_finetune(spec, progress=False)
    assert record.prompt_template == {"kind": "jinja", "text": jinja, "source": "inline"}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["prompt_template"]["kind"] == "jinja" and run["spec"]["prompt_template"] == jinja
    saved = json.loads((tmp_path / "run" / "adapter" / "pefomed_adapter.json").read_text())
    assert saved["prompt_template"]["text"] == jinja
    fresh = create_model("tiny-llava")
    load_adapted(fresh, tmp_path / "run" / "adapter")
    assert build_prompt("is it?", fresh) == "<|user|><image>\nis it?<|assistant|>\n"  # Jinja trims the newline after a block


def test_a_template_bos_is_not_doubled_when_the_tokenizer_adds_one():
    from tokenizers import processors

    bundle = _with_chat("tiny-llava")
    bundle.processor.chat_template = "{{ bos_token }}" + bundle.processor.chat_template
    assert build_prompt("x?", bundle).startswith("<s><|user|>")  # this tokenizer adds no BOS: keep it
    tok = bundle.tokenizer
    tok._tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    assert tok("x")["input_ids"][0] == tok.bos_token_id
    assert build_prompt("x?", bundle).startswith("<|user|>")
