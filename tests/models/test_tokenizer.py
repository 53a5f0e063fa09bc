"""Offline tiny tokenizers: exact vocabulary size, reserved special tokens, independent copies."""
from __future__ import annotations

from transformers import AutoTokenizer

from pefomed.models.tokenizer import build_tiny_tokenizer


def test_extra_special_tokens_are_reserved_inside_the_vocabulary():
    plain = build_tiny_tokenizer(384)
    qwen = build_tiny_tokenizer(384, extra_special=("<|vision_start|>", "<|image_pad|>"))
    assert len(plain) == len(qwen) == 384
    pad = qwen.convert_tokens_to_ids("<|image_pad|>")
    assert qwen.tokenize("a<|image_pad|>b") == ["a", "<|image_pad|>", "b"]
    assert qwen.decode([pad, qwen.eos_token_id], skip_special_tokens=True) == ""
    assert plain.convert_tokens_to_ids("<image>") == qwen.convert_tokens_to_ids("<image>")


def test_named_special_tokens_survive_save_and_load(tmp_path):
    tok = build_tiny_tokenizer(384, named_special={"image_token": "<image_soft_token>", "boi_token": "<boi>"})
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert (loaded.image_token, loaded.boi_token) == ("<image_soft_token>", "<boi>")
    assert loaded.image_token_id == tok.image_token_id < 384
    assert loaded("is there a mass?")["input_ids"] == tok("is there a mass?")["input_ids"]


def test_each_call_returns_an_independent_copy():
    a, b = build_tiny_tokenizer(384), build_tiny_tokenizer(384)
    a.padding_side = "left"
    a.add_tokens(["<only-in-a>"])
    assert b.padding_side == "right" and len(b) == 384 and len(a) == 385
    assert a("liver yes")["input_ids"] == b("liver yes")["input_ids"]
