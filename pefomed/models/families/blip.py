"""BLIP VQA: ViT -> question encoder (cross-attends to the image) -> answer decoder.

No projector: text layers cross-attend to the vision tokens. The answer is the decoder's own
sequence (``decoder_input_ids``: start token, answer, separator), so labels cover the answer and
the separator; the decoder's output layer is tied to its embeddings and counts as head.
"""
from __future__ import annotations

import torch

from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.generative import IGNORE_INDEX
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer


@register_family
class BlipFamily(Family):
    name = "blip"
    model_types = ("blip",)
    auto_class = "AutoModelForVisualQuestionAnswering"
    anatomy = Anatomy(
        vision=("vision_model",),
        projector=(),
        language=("text_encoder", "text_decoder"),
        head=("text_decoder.cls",),
    )
    unsupported = {
        "prefix": "prefix tuning needs a KV cache, which BLIP's question encoder does not take; use lora",
        "prompt": "prompt tuning: peft cannot find BLIP's input embeddings (the forward needs input_ids); "
                  "use lora",
    }
    untargetable_parts = {"*": {"projector": "BLIP has no projector (its text layers cross-attend to the image); "
                                             "target vision or language"}}

    def encode(self, bundle, images, questions, answers=None):
        tok = bundle.tokenizer
        tok.padding_side = "right"
        enc = dict(bundle.processor(images=images, text=list(questions), padding=True, return_tensors="pt"))
        if answers is None:
            return enc
        text_cfg = hf_model(bundle).config.text_config
        rows = [[text_cfg.bos_token_id, *tok(a, add_special_tokens=False)["input_ids"], text_cfg.sep_token_id]
                for a in answers]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), text_cfg.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        labels = ids.masked_fill(mask == 0, IGNORE_INDEX)
        labels[:, 0] = IGNORE_INDEX  # the start token is input only (the decoder shifts labels by one)
        enc.update(decoder_input_ids=ids, decoder_attention_mask=mask, labels=labels)
        return enc

    def output_head(self, model):
        return hf_model(model).text_decoder.cls  # per token: transform, LayerNorm, tied Linear

    @torch.no_grad()
    def generate(self, bundle, images, questions, max_new_tokens=8):
        inputs = self.encode(bundle, images, questions)
        out = outer_model(bundle).generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return [t.strip() for t in bundle.tokenizer.batch_decode(out, skip_special_tokens=True)]


@register_model("tiny-blip", family="blip", description="random-weight BLIP VQA, for tests", tiny=True)
def tiny_blip(seed: int = 0) -> ModelBundle:
    from transformers import BlipConfig, BlipForQuestionAnswering, BlipProcessor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    image_size, patch, vocab = 32, 8, 384
    tokenizer = build_tiny_tokenizer(vocab)
    # the answer decoder cross-attends to the question encoder with the same width as to the image,
    # so vision and text widths must agree (as in the real BLIP)
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  image_size=image_size, patch_size=patch, projection_dim=32)
    text = dict(vocab_size=vocab, hidden_size=64, encoder_hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=128, projection_dim=32,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                sep_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    config = BlipConfig(vision_config=vision, text_config=text, projection_dim=32, image_text_hidden_size=32)
    torch.manual_seed(seed)
    model = BlipForQuestionAnswering(config).eval()
    image_processor = BlipImageProcessorPil(size={"height": image_size, "width": image_size})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return ModelBundle(name="tiny-blip", model=model, processor=processor, family=BlipFamily())
