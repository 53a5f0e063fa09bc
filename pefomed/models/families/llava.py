"""LLaVA (and LLaVA-Med, which shares the architecture): CLIP tower -> MLP projector -> Llama."""
from __future__ import annotations

import torch
from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                          LlavaForConditionalGeneration, LlavaProcessor)

from pefomed.models.base import Anatomy, Family, ModelBundle
from pefomed.models.generative import encode_prompt_answer, greedy_answers
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

PROMPT = "<image>\nQuestion: {question} Answer:"


@register_family
class LlavaFamily(Family):
    name = "llava"
    model_types = ("llava",)
    anatomy = Anatomy(
        vision=("model.vision_tower",),
        projector=("model.multi_modal_projector",),
        language=("model.language_model",),
        head=("lm_head",),
    )

    def encode(self, bundle, images, questions, answers=None):
        prompts = [PROMPT.format(question=q) for q in questions]
        return encode_prompt_answer(bundle, images, prompts, answers)

    @torch.no_grad()
    def generate(self, bundle, images, questions, max_new_tokens=8):
        return greedy_answers(bundle, self.encode(bundle, images, questions), max_new_tokens)


def build_llava(*, seed: int, image_size: int, patch: int, vision_hidden: int, text_hidden: int,
                layers: int, heads: int, vocab_size: int, name: str) -> ModelBundle:
    tokenizer = build_tiny_tokenizer(vocab_size)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        hidden_size=vision_hidden, intermediate_size=vision_hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, image_size=image_size, patch_size=patch, projection_dim=vision_hidden,
    )
    text = LlamaConfig(
        vocab_size=vocab_size, hidden_size=text_hidden, intermediate_size=text_hidden * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False,
    )
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=image_token_id,
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    image_processor = CLIPImageProcessor(size={"shortest_edge": image_size},
                                         crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=patch,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    return ModelBundle(name=name, model=model, processor=processor, family=LlavaFamily())


@register_model("tiny-llava", family="llava", description="random-weight LLaVA (CLIP + Llama), for tests", tiny=True)
def tiny_llava(seed: int = 0) -> ModelBundle:
    return build_llava(seed=seed, image_size=32, patch=8, vision_hidden=32, text_hidden=64, layers=2,
                       heads=4, vocab_size=384, name="tiny-llava")
