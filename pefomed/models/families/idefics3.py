"""Idefics3 and SmolVLM: a SigLIP-style tower, a pixel-shuffle connector, a Llama-style LM.

Images may be split into crops (one row of ``pixel_values`` per crop, zero crops as padding);
cached features keep that layout: (batch, crops, patches, width).
"""
from __future__ import annotations

import torch

from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.families._processors import image_only
from pefomed.models.generative import build_seeded
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

PROMPT = "<image>Question: {question} Answer:"
IDEFICS_SPECIAL = ("<fake_token_around_image>", "<global-img>", "<end_of_utterance>")
_PIXEL_KEYS = ("pixel_values", "pixel_attention_mask")


class _IdeficsBase(Family):
    anatomy = Anatomy(
        vision=("model.vision_model",),
        projector=("model.connector",),
        language=("model.text_model",),
        head=("lm_head",),
    )
    supports_feature_cache = True
    prompt = PROMPT
    images_per_prompt = True
    resolution = "longest_edge"

    @torch.no_grad()
    def image_features(self, bundle, inputs, *, projected=False):
        inner = hf_model(bundle).model
        pixels = inputs["pixel_values"]
        batch, crops = pixels.shape[:2]
        real = _real_crops(pixels)
        out = inner.get_image_features(pixels, inputs.get("pixel_attention_mask"))  # real crops only
        if projected:  # pooler_output: per example, its crops' tokens flattened
            rows = torch.cat(out.pooler_output).reshape(int(real.sum()), -1, inner.config.text_config.hidden_size)
        else:
            rows = out.last_hidden_state
        feats = rows.new_zeros(batch, crops, *rows.shape[1:])
        feats[real] = rows
        return feats

    def forward_with_features(self, model, inputs, features, *, projector_live=True):
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        inner = hf_model(model).model
        seq = inner.image_seq_len
        crops = ((inputs["input_ids"] == inner.image_token_id).sum(dim=1) // seq).tolist()
        rows = torch.cat([features[i, :n] for i, n in enumerate(crops)])
        if projector_live:
            rows = inner.connector(rows)
        pooled = [r.reshape(-1, r.shape[-1]) for r in rows.split(crops)]
        image = BaseModelOutputWithPooling(pooler_output=pooled)
        rest = {k: v for k, v in inputs.items() if k not in _PIXEL_KEYS}
        return outer_model(model)(**rest, mm_encoder_outputs={"image": image})


def _real_crops(pixels: torch.Tensor) -> torch.Tensor:
    """(batch, crops) mask of real crops; padding crops are all zeros (as in transformers)."""
    return pixels.flatten(2).ne(0).any(dim=2)


@register_family
class Idefics3Family(_IdeficsBase):
    name = "idefics3"
    model_types = ("idefics3",)


@register_family
class SmolVLMFamily(_IdeficsBase):
    name = "smolvlm"
    model_types = ("smolvlm",)

    def load_processor(self, name_or_path):
        from transformers import SmolVLMProcessor

        return image_only(SmolVLMProcessor).from_pretrained(name_or_path)


def _build(family: Family, arch: str, *, seed: int, name: str) -> ModelBundle:
    """A tiny model of ``arch`` ("Idefics3" or "SmolVLM"), built without image splitting."""
    import transformers
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
    from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

    vocab, image_size, patch, scale = 384, 32, 8, 2
    tokenizer = build_tiny_tokenizer(vocab, extra_special=IDEFICS_SPECIAL)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=image_size, patch_size=patch)
    text = dict(model_type="llama", vocab_size=vocab, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    config = getattr(transformers, f"{arch}Config")(vision_config=vision, text_config=text, scale_factor=scale,
                        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), pad_token_id=tokenizer.pad_token_id)
    model = build_seeded(getattr(transformers, f"{arch}ForConditionalGeneration"), config, tokenizer, seed)
    image_processor_cls = Idefics3ImageProcessorPil if arch == "Idefics3" else SmolVLMImageProcessorPil
    image_processor = image_processor_cls(size={"longest_edge": image_size}, do_image_splitting=False,
                                          max_image_size={"longest_edge": image_size})
    seq_len = (image_size // patch) ** 2 // scale ** 2
    processor_cls = getattr(transformers, f"{arch}Processor")
    if arch == "SmolVLM":
        processor_cls = image_only(processor_cls)
    processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=seq_len)
    return ModelBundle(name=name, model=model, processor=processor, family=family)


@register_model("tiny-idefics3", family="idefics3", description="random-weight Idefics3, for tests", tiny=True)
def tiny_idefics3(seed: int = 0) -> ModelBundle:
    return _build(Idefics3Family(), "Idefics3", seed=seed, name="tiny-idefics3")


@register_model("tiny-smolvlm", family="smolvlm", description="random-weight SmolVLM, for tests", tiny=True)
def tiny_smolvlm(seed: int = 0) -> ModelBundle:
    return _build(SmolVLMFamily(), "SmolVLM", seed=seed, name="tiny-smolvlm")
