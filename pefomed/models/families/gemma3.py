"""Gemma3: SigLIP tower -> pooled, normed projection (a raw weight, no Linear) -> Gemma3 LM."""
from __future__ import annotations

from pefomed.models.base import Anatomy, ModelBundle
from pefomed.models.families.paligemma import _SiglipGemmaFeatures
from pefomed.models.generative import build_seeded
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

#: ``<start_of_image>`` is where the processor puts the image (boi, soft tokens, eoi)
PROMPT = "<start_of_image>Question: {question} Answer:"
GEMMA3_TOKENS = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}


@register_family
class Gemma3Family(_SiglipGemmaFeatures):
    name = "gemma3"
    model_types = ("gemma3",)
    anatomy = Anatomy(
        vision=("model.vision_tower",),
        projector=("model.multi_modal_projector",),
        language=("model.language_model",),
        head=("lm_head",),
    )
    untargetable_parts = {"*": {"projector": (
        "Gemma3's projector is a raw weight matrix and an RMSNorm, no Linear layer to adapt; "
        "train it fully with train_projector=True instead")}}

    prompt = PROMPT
    image_placeholder = "<start_of_image>"
    images_per_prompt = True


@register_model("tiny-gemma3", family="gemma3", description="random-weight Gemma3, for tests", tiny=True)
def tiny_gemma3(seed: int = 0) -> ModelBundle:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    image_size, patch, tokens, vocab = 32, 8, 4, 384
    tokenizer = build_tiny_tokenizer(vocab, named_special=GEMMA3_TOKENS)
    vision = dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, image_size=image_size, patch_size=patch, vision_use_head=False)
    text = dict(model_type="gemma3_text", vocab_size=vocab, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                query_pre_attn_scalar=16, sliding_window=16, max_position_embeddings=512,
                layer_types=["sliding_attention", "full_attention"], pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config = Gemma3Config(vision_config=vision, text_config=text, mm_tokens_per_image=tokens,
                          boi_token_index=tokenizer.boi_token_id, eoi_token_index=tokenizer.eoi_token_id,
                          image_token_index=tokenizer.image_token_id)
    model = build_seeded(Gemma3ForConditionalGeneration, config, tokenizer, seed)
    image_processor = Gemma3ImageProcessorPil(size={"height": image_size, "width": image_size})
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_length=tokens)
    return ModelBundle(name="tiny-gemma3", model=model, processor=processor, family=Gemma3Family())
