"""PaliGemma: SigLIP tower -> one Linear projector -> Gemma, with a prefix-LM attention mask.

The processor appends the answer as a *suffix*: ``token_type_ids`` mark it (1) so the prompt
attends bidirectionally and only the answer causally, and labels cover the suffix only.
"""
from __future__ import annotations

import torch

from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.generative import build_seeded
from pefomed.models.prompts import build_prompt
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

#: PaliGemma's own VQA task prefix; the processor adds the image tokens, bos and a newline
PROMPT = "answer en {question}"


def encode_suffix(bundle: ModelBundle, images: list, prompts: list[str],
                  answers: list[str] | None) -> dict[str, torch.Tensor]:
    """Processor call with answers as suffix (labels on answer + eos); left padding to generate."""
    tok = bundle.tokenizer
    tok.padding_side = "left" if answers is None else "right"
    kw = {} if answers is None else {"suffix": list(answers)}
    enc = dict(bundle.processor(images=images, text=[f"<image>{p}" for p in prompts], padding=True,
                                return_tensors="pt", **kw))
    if answers is None:
        enc.pop("labels", None)
    return enc


class _SiglipGemmaFeatures(Family):
    """Cached features for a tower -> ``multi_modal_projector`` -> LM model (PaliGemma, Gemma3)."""

    supports_feature_cache = True

    @torch.no_grad()
    def image_features(self, bundle, inputs, *, projected=False):
        inner = hf_model(bundle).model
        hidden = inner.vision_tower(pixel_values=inputs["pixel_values"].to(inner.vision_tower.dtype)).last_hidden_state
        return inner.multi_modal_projector(hidden) if projected else hidden

    def forward_with_features(self, model, inputs, features, *, projector_live=True):
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        inner = hf_model(model).model
        pooled = inner.multi_modal_projector(features) if projector_live else features
        image = BaseModelOutputWithPooling(pooler_output=pooled)
        rest = {k: v for k, v in inputs.items() if k != "pixel_values"}
        return outer_model(model)(**rest, mm_encoder_outputs={"image": image})


@register_family
class PaliGemmaFamily(_SiglipGemmaFeatures):
    name = "paligemma"
    unsupported = {"prompt": "prompt tuning: peft drops PaliGemma's token_type_ids, so training and "
                             "generation attend to the prompt differently; use prefix tuning or lora"}
    model_types = ("paligemma",)
    anatomy = Anatomy(
        vision=("model.vision_tower",),
        projector=("model.multi_modal_projector",),
        language=("model.language_model",),
        head=("lm_head",),
    )

    prompt = PROMPT
    image_placeholder = ""  # encode_suffix puts <image> in front; the processor expands it

    def encode(self, bundle, images, questions, answers=None):
        return encode_suffix(bundle, images, [build_prompt(q, bundle) for q in questions], answers)


@register_model("tiny-paligemma", family="paligemma", description="random-weight PaliGemma, for tests", tiny=True)
def tiny_paligemma(seed: int = 0) -> ModelBundle:
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    image_size, patch, vocab = 32, 8, 384
    tokenizer = build_tiny_tokenizer(vocab)
    image_processor = SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    image_processor.image_seq_length = (image_size // patch) ** 2
    tokenizer.image_token, tokenizer.image_token_id = "<image>", tokenizer.convert_tokens_to_ids("<image>")
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)
    vocab = len(tokenizer)  # the processor adds PaliGemma's 1152 <loc>/<seg> tokens; the model covers them
    vision = dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, image_size=image_size, patch_size=patch, vision_use_head=False)
    text = dict(model_type="gemma", vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=1, head_dim=16, max_position_embeddings=512,
                pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id)
    config = PaliGemmaConfig(vision_config=vision, text_config=text, projection_dim=64, hidden_size=64,
                             vocab_size=vocab, image_token_index=tokenizer.convert_tokens_to_ids("<image>"))
    model = build_seeded(PaliGemmaForConditionalGeneration, config, tokenizer, seed)
    return ModelBundle(name="tiny-paligemma", model=model, processor=processor, family=PaliGemmaFamily())
