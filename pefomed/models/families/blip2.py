"""BLIP-2: ViT -> Q-Former (learned query tokens) -> Linear -> a causal LM (OPT here).

The projector is the Q-Former, its query tokens and the language projection; cached features
are the ViT's output, so a trainable Q-Former still runs live.
"""
from __future__ import annotations

from typing import Any

import torch

from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.generative import build_seeded
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

PROMPT = "Question: {question} Answer:"


@register_family
class Blip2Family(Family):
    name = "blip2"
    model_types = ("blip-2",)
    anatomy = Anatomy(
        vision=("vision_model",),
        projector=("qformer", "query_tokens", "language_projection"),
        language=("language_model",),
        head=("language_model.lm_head",),
        mlp=Anatomy.mlp + (r"layers\.\d+\.(fc1|fc2)",),  # OPT's MLP sits directly in the layer
    )
    unsupported = {
        "prompt": "prompt tuning: peft cannot find BLIP-2's input embeddings and its forward needs "
                  "input_ids; use lora or another weight adapter instead",
        "prefix": "prefix tuning: BLIP-2's generate calls its language model directly, bypassing "
                  "peft's prefix, so answers ignore what was trained; use lora instead",
    }
    supports_feature_cache = True
    prompt = PROMPT
    image_placeholder = ""  # the processor puts the query tokens in front itself

    @torch.no_grad()
    def image_features(self, bundle, inputs, *, projected=False):
        model = hf_model(bundle)
        hidden = model.vision_model(pixel_values=inputs["pixel_values"].to(model.dtype)).last_hidden_state
        return _project(model, hidden).pooler_output if projected else hidden

    def forward_with_features(self, model, inputs, features, *, projector_live=True):
        from transformers.models.blip_2.modeling_blip_2 import BaseModelOutputWithVisionQformerOutputs

        image = (_project(hf_model(model), features) if projector_live
                 else BaseModelOutputWithVisionQformerOutputs(pooler_output=features))
        rest = {k: v for k, v in inputs.items() if k != "pixel_values"}
        return outer_model(model)(pixel_values=None, **rest, mm_encoder_outputs={"image": image})


def _project(model: Any, image_embeds: torch.Tensor) -> Any:
    """Q-Former + language projection on vision features (mirrors ``get_image_features``)."""
    from transformers.models.blip_2.modeling_blip_2 import BaseModelOutputWithVisionQformerOutputs

    mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
    queries = model.query_tokens.expand(image_embeds.shape[0], -1, -1)
    q = model.qformer(query_embeds=queries, encoder_hidden_states=image_embeds, encoder_attention_mask=mask,
                      return_dict=True)
    query_output = q[0].to(image_embeds.dtype)
    return BaseModelOutputWithVisionQformerOutputs(pooler_output=model.language_projection(query_output),
                                                   qformer_outputs=q)


@register_model("tiny-blip2", family="blip2", description="random-weight BLIP-2 (ViT + Q-Former + OPT), for tests",
                tiny=True)
def tiny_blip2(seed: int = 0) -> ModelBundle:
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    image_size, patch, queries, vocab = 32, 8, 4, 384
    tokenizer = build_tiny_tokenizer(vocab)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=image_size, patch_size=patch)
    qformer = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
                   encoder_hidden_size=32, vocab_size=vocab + 5, hidden_dropout_prob=0.0,
                   attention_probs_dropout_prob=0.0, max_position_embeddings=64)
    text = dict(model_type="opt", vocab_size=vocab, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
                num_attention_heads=4, word_embed_proj_dim=64, max_position_embeddings=512, dropout=0.0,
                pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    config = Blip2Config(vision_config=vision, qformer_config=qformer, text_config=text, num_query_tokens=queries,
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"))
    model = build_seeded(Blip2ForConditionalGeneration, config, tokenizer, seed)
    image_processor = BlipImageProcessorPil(size={"height": image_size, "width": image_size})
    processor = Blip2Processor(image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=queries)
    return ModelBundle(name="tiny-blip2", model=model, processor=processor, family=Blip2Family())
