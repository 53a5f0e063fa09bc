"""Generation (what evaluation runs) computes what the training forward computes, adapter included.

Greedy generation with the KV cache must give, at every step, the logits of a plain forward
over the prompt plus the tokens generated so far (teacher forcing). Prefix and prompt tuning
inject their virtual tokens through peft's generation hooks, which this checks end to end.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pefomed.adapters import inject
from pefomed.models.registry import create_model
from tests.adapters.conftest import TINY_MODELS

STEPS = 3


def _decoder_only(model_name: str) -> bool:
    """Decoder VLMs (an LM head on top); BLIP's question encoder + answer decoder is checked elsewhere."""
    bundle = create_model(model_name)
    return bundle.family.task == "generate" and bundle.model.get_output_embeddings() is not None


# Combinations whose generation diverged from training (BLIP-2 and Qwen prefix, PaliGemma prompt)
# are refused by their families up front, so every case listed here must pass.
CASES = [pytest.param(m, method)
         for m in TINY_MODELS if _decoder_only(m) for method in ("lora", "prefix", "prompt")
         if method not in create_model(m).family.unsupported]


def _extended(inputs: dict, sequences: torch.Tensor) -> dict:
    """``inputs`` with the generated tokens appended (one unpadded row)."""
    grown = sequences.shape[1] - inputs["input_ids"].shape[1]
    out = {k: v for k, v in inputs.items() if k != "position_ids"}  # recomputed by the model
    out["input_ids"] = sequences
    out["attention_mask"] = torch.ones_like(sequences)
    if "mm_token_type_ids" in inputs:
        zeros = torch.zeros(1, grown, dtype=inputs["mm_token_type_ids"].dtype)
        out["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], zeros], dim=1)
    return out


@pytest.mark.parametrize(("model_name", "method"), CASES)
def test_generation_matches_the_forward(model_name: str, method: str) -> None:
    bundle = create_model(model_name, seed=0)
    adapted = inject(bundle, method)
    with torch.no_grad():  # make the adapter matter: random, large
        for p in adapted.model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p) * (0.5 if method == "lora" else 3.0))
    adapted.model.eval()
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    inputs = bundle.family.encode(bundle, [image], ["is there a mass?"])
    tok = bundle.tokenizer
    with torch.no_grad():
        gen = adapted.model.generate(**inputs, max_new_tokens=STEPS, min_new_tokens=STEPS, do_sample=False,
                                     output_logits=True, return_dict_in_generate=True,
                                     pad_token_id=tok.pad_token_id)
        sequences = gen.sequences
        if sequences.shape[1] == STEPS:  # some families return only the new tokens
            sequences = torch.cat([inputs["input_ids"], sequences], dim=1)
        forward = adapted.model(**_extended(inputs, sequences)).logits[:, -STEPS - 1:-1]
    generated = torch.stack(gen.logits, dim=1)
    assert (generated - forward).abs().max().item() < 1e-4
