"""Shared input building and greedy generation for decoder-style VLMs (prompt -> answer)."""
from __future__ import annotations

from typing import Any

import torch

from pefomed.models.base import ModelBundle

IGNORE_INDEX = -100


def encode_prompt_answer(bundle: ModelBundle, images: list, prompts: list[str],
                         answers: list[str] | None, **processor_kwargs: Any) -> dict[str, torch.Tensor]:
    """Tokenize prompt [+ answer + eos] with right padding; labels only on answer tokens.

    The prompt length of each row is measured by tokenizing the prompt alone through the same
    processor, so image-token expansion is accounted for exactly.
    """
    proc = bundle.processor
    tok = bundle.tokenizer
    if answers is None:
        tok.padding_side = "left"
        return dict(proc(images=images, text=prompts, padding=True, return_tensors="pt", **processor_kwargs))
    tok.padding_side = "right"
    eos = tok.eos_token or ""
    # a chat template's generation prompt ends in a newline; a plain prompt wants a space
    full = [f"{p}{'' if p[-1:].isspace() else ' '}{a}{eos}" for p, a in zip(prompts, answers)]
    enc = dict(proc(images=images, text=full, padding=True, return_tensors="pt", **processor_kwargs))
    prompt_only = proc(images=images, text=prompts, padding=True, return_tensors="pt", **processor_kwargs)
    prompt_lens = prompt_only["attention_mask"].sum(dim=1)
    labels = enc["input_ids"].clone()
    for row, n in enumerate(prompt_lens.tolist()):
        labels[row, :n] = IGNORE_INDEX
    labels[enc["attention_mask"] == 0] = IGNORE_INDEX
    enc["labels"] = labels
    return enc


@torch.no_grad()
def greedy_answers(bundle: ModelBundle, inputs: dict[str, torch.Tensor], max_new_tokens: int) -> list[str]:
    """Greedy decoding; returns only the newly generated text, stripped."""
    tok = bundle.tokenizer
    model = bundle.model
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    new = out[:, inputs["input_ids"].shape[1]:]
    return [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]


def build_seeded(model_class: Any, config: Any, tokenizer: Any, seed: int) -> torch.nn.Module:
    """A random-weight model, deterministic by ``seed``, that generates with the tokenizer's pad/eos."""
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
