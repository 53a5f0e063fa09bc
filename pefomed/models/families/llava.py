"""LLaVA (and LLaVA-Med, which shares the architecture): CLIP tower -> MLP projector -> Llama.

LLaVA-Med checkpoints converted to the transformers LLaVA format have ``model_type`` "llava" and
load as this family (``create_model("path/to/llava-med")``); no separate family is needed.
"""
from __future__ import annotations

import torch

from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.generative import build_seeded
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
    supports_feature_cache = True
    prompt = PROMPT
    image_placeholder = "<image>\n"

    @torch.no_grad()
    def image_features(self, bundle, inputs, *, projected=False):
        model = hf_model(bundle)
        inner, cfg = model.model, model.config
        out = inner.vision_tower(inputs["pixel_values"].to(inner.vision_tower.dtype), output_hidden_states=True)
        layers = cfg.vision_feature_layer if isinstance(cfg.vision_feature_layer, list) else [cfg.vision_feature_layer]
        drop_cls = cfg.vision_feature_select_strategy == "default"
        hidden = torch.cat([out.hidden_states[i][:, 1:] if drop_cls else out.hidden_states[i] for i in layers], -1)
        return inner.multi_modal_projector(hidden) if projected else hidden

    def forward_with_features(self, model, inputs, features, *, projector_live=True):
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        projected = hf_model(model).model.multi_modal_projector(features) if projector_live else features
        image = BaseModelOutputWithPooling(pooler_output=list(projected))
        rest = {k: v for k, v in inputs.items() if k != "pixel_values"}
        return outer_model(model)(**rest, mm_encoder_outputs={"image": image})


def build_llava(*, seed: int, image_size: int, patch: int, vision_hidden: int, text_hidden: int,
                layers: int, heads: int, vocab_size: int, name: str, vision_layers: int | None = None,
                vision_intermediate: int | None = None, text_intermediate: int | None = None,
                extra_words: tuple[str, ...] = ()) -> ModelBundle:
    """A randomly initialised LLaVA; ``vision_layers`` and the intermediate sizes default to
    ``layers`` and twice the hidden sizes."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = build_tiny_tokenizer(vocab_size, extra_words)
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        hidden_size=vision_hidden, intermediate_size=vision_intermediate or vision_hidden * 2,
        num_hidden_layers=vision_layers or layers,
        num_attention_heads=heads, image_size=image_size, patch_size=patch, projection_dim=vision_hidden,
    )
    text = LlamaConfig(
        vocab_size=vocab_size, hidden_size=text_hidden, intermediate_size=text_intermediate or text_hidden * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False,
    )
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=image_token_id,
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    config.pad_token_id = tokenizer.pad_token_id
    model = build_seeded(LlavaForConditionalGeneration, config, tokenizer, seed)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": image_size},
                                         crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=patch,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    return ModelBundle(name=name, model=model, processor=processor, family=LlavaFamily())


@register_model("tiny-llava", family="llava", description="random-weight LLaVA (CLIP + Llama), for tests", tiny=True)
def tiny_llava(seed: int = 0) -> ModelBundle:
    return build_llava(seed=seed, image_size=32, patch=8, vision_hidden=32, text_hidden=64, layers=2,
                       heads=4, vocab_size=384, name="tiny-llava")
