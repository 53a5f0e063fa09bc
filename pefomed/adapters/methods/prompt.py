"""Prompt tuning (Lester et al. 2021): trained soft-prompt embeddings prepended to the input."""
from __future__ import annotations

import torch

from pefomed.adapters.catalogue import register_adapter
from pefomed.adapters.params import Param
from pefomed.adapters.prompt_learning import PromptLearningMethod

INIT_SEED = 0


@register_adapter
class PromptTuning(PromptLearningMethod):
    name = "prompt"
    parts_reason = ("prompt tuning prepends virtual tokens to the language model's input only; "
                    "use parts=('language',)")
    params = {
        "num_virtual_tokens": Param("int", low=1, help="number of soft-prompt tokens", bound="positions"),
        "init": Param("str", choices=("random", "sample_vocab"),
                      help="random vectors, or embeddings of random ordinary vocabulary tokens"),
    }

    def peft_config(self, bundle, request, targets):
        from peft import PromptTuningConfig

        return PromptTuningConfig(prompt_tuning_init="RANDOM", **self.peft_kwargs(request))

    def build(self, bundle, request):
        adapted = super().build(bundle, request)
        if request.settings["init"] == "sample_vocab":
            _init_from_vocab(adapted)
        return adapted

    def touched(self, adapted):
        embeddings = adapted.base.get_input_embeddings()
        return [n for n, m in adapted.base.named_modules() if m is embeddings]


@torch.no_grad()
def _init_from_vocab(adapted) -> None:
    """Start the soft prompt from embeddings of random *ordinary* tokens.

    peft's SAMPLE_VOCAB may draw special tokens, and a copy of the image token's embedding makes
    Idefics3/SmolVLM (which find image positions by comparing embeddings) count extra images.
    """
    tokenizer = adapted.bundle.tokenizer
    embeddings = adapted.base.get_input_embeddings()
    special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    ordinary = torch.tensor([i for i in range(min(len(tokenizer), embeddings.num_embeddings)) if i not in special])
    prompt = adapted.model.prompt_encoder["default"].embedding
    generator = torch.Generator().manual_seed(INIT_SEED)
    ids = ordinary[torch.randint(len(ordinary), (prompt.num_embeddings,), generator=generator)]
    prompt.weight.copy_(embeddings.weight[ids.to(embeddings.weight.device)].to(prompt.weight.dtype))
