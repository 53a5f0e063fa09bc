"""Qwen2-VL and Qwen2.5-VL: a ViT with fused ``attn.qkv`` whose patch merger is the projector.

Both use multimodal rotary positions (M-RoPE). :meth:`encode` precomputes them as
``position_ids`` (3 x batch x length): the model would otherwise derive them from the attention
mask, which prefix tuning lengthens by its virtual tokens (and then the derivation fails).
"""
from __future__ import annotations

import torch

from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.families._processors import image_only
from pefomed.models.generative import build_seeded, encode_prompt_answer, greedy_answers
from pefomed.models.prompts import build_prompt
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
PROMPT = IMAGE + "Question: {question} Answer:"
QWEN_SPECIAL = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
_PIXEL_KEYS = ("pixel_values",)

_PROMPT_WHY = ("prompt tuning prepends virtual tokens that Qwen's 3-D M-RoPE positions do not cover "
               "(the forward fails or image positions turn 1-D); use lora instead")
_PREFIX_WHY = ("prefix tuning trains, but generation crashes: Qwen's M-RoPE index reads the attention "
               "mask that peft lengthens by the prefix; use lora instead")


class _QwenBase(Family):
    anatomy = Anatomy(
        vision=("model.visual",),
        projector=("model.visual.merger",),
        language=("model.language_model",),
        head=("lm_head",),
    )
    unsupported = {"prompt": _PROMPT_WHY, "prefix": _PREFIX_WHY}
    supports_feature_cache = True
    processor_class = "Qwen2VLProcessor"
    prompt = PROMPT
    image_placeholder = IMAGE
    resolution = "pixels"

    def encode(self, bundle, images, questions, answers=None):
        prompts = [build_prompt(q, bundle) for q in questions]
        enc = encode_prompt_answer(bundle, images, prompts, answers)
        enc["position_ids"], _ = hf_model(bundle).model.get_rope_index(
            enc["input_ids"], mm_token_type_ids=enc["mm_token_type_ids"], image_grid_thw=enc["image_grid_thw"],
            attention_mask=enc["attention_mask"])
        return enc

    def collate(self, bundle, rows, skip=()):
        # M-RoPE positions are (3, batch, length): recompute them for the padded batch
        batch = super().collate(bundle, rows, skip=(*skip, "position_ids"))
        if "position_ids" in rows[0] and "position_ids" not in skip:
            batch["position_ids"], _ = hf_model(bundle).model.get_rope_index(
                batch["input_ids"], mm_token_type_ids=batch["mm_token_type_ids"],
                image_grid_thw=batch["image_grid_thw"], attention_mask=batch["attention_mask"])
        return batch

    @torch.no_grad()
    def generate(self, bundle, images, questions, max_new_tokens=8):
        enc = self.encode(bundle, images, questions)
        enc.pop("position_ids")  # generation extends positions itself, from the rope deltas
        return greedy_answers(bundle, enc, max_new_tokens)

    def load_processor(self, name_or_path):
        import transformers

        return image_only(getattr(transformers, self.processor_class)).from_pretrained(name_or_path)

    @torch.no_grad()
    def image_features(self, bundle, inputs, *, projected=False):
        visual = hf_model(bundle).model.visual
        grid = inputs["image_grid_thw"]
        pixels = inputs["pixel_values"].to(visual.dtype)
        out = visual(pixels, grid_thw=grid)
        rows = self._natural_order(visual, out.last_hidden_state, grid)
        if projected:
            rows = visual.merger(rows)
        sizes = (grid.prod(-1) // (visual.spatial_merge_size ** 2 if projected else 1)).tolist()
        return _pad_split(rows, sizes)

    def _natural_order(self, visual, hidden: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return hidden  # Qwen2-VL has no window attention: rows are already in patch order

    def forward_with_features(self, model, inputs, features, *, projector_live=True):
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        visual = hf_model(model).model.visual
        grid = inputs["image_grid_thw"]
        unit = visual.spatial_merge_size ** 2
        per_image = (grid.prod(-1) // (1 if projector_live else unit)).tolist()
        rows = torch.cat([features[i, :n] for i, n in enumerate(per_image)])
        merged = visual.merger(rows) if projector_live else rows
        pooled = torch.split(merged, [n // unit if projector_live else n for n in per_image])
        image = BaseModelOutputWithPooling(pooler_output=pooled)
        rest = {k: v for k, v in inputs.items() if k not in _PIXEL_KEYS}
        return outer_model(model)(**rest, mm_encoder_outputs={"image": image})


def _pad_split(rows: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Split concatenated per-image rows and zero-pad them into a (batch, longest, dim) tensor."""
    parts = torch.split(rows, sizes)
    out = rows.new_zeros(len(parts), max(sizes), rows.shape[-1])
    for i, p in enumerate(parts):
        out[i, : p.shape[0]] = p
    return out


@register_family
class Qwen2VLFamily(_QwenBase):
    name = "qwen2-vl"
    model_types = ("qwen2_vl",)


@register_family
class Qwen25VLFamily(_QwenBase):
    name = "qwen2.5-vl"
    model_types = ("qwen2_5_vl",)
    processor_class = "Qwen2_5_VLProcessor"

    def _natural_order(self, visual, hidden, grid):
        # Qwen2.5's tower reorders merge units into attention windows; undo it so each image's
        # rows are contiguous and in patch order (the merger works per merge unit, so this commutes)
        from transformers.vision_utils import get_vision_window_index

        window_index, _ = get_vision_window_index(grid, visual.spatial_merge_size, visual.window_size,
                                                  visual.patch_size)
        unit = visual.spatial_merge_unit
        grouped = hidden.reshape(-1, unit, hidden.shape[-1])
        return grouped[torch.argsort(window_index)].reshape(hidden.shape)


def _build(family: Family, arch: str, *, seed: int, name: str, vision: dict) -> ModelBundle:
    """A tiny model of ``arch`` ("Qwen2VL" or "Qwen2_5_VL")."""
    import transformers
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    vocab = 384
    tokenizer = build_tiny_tokenizer(vocab, extra_special=QWEN_SPECIAL)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    text = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    config = getattr(transformers, f"{arch}Config")(
        text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"])
    model = build_seeded(getattr(transformers, f"{arch}ForConditionalGeneration"), config, tokenizer, seed)
    # 32x32 images give 4 image tokens; other aspect ratios keep theirs, up to 32x64 pixels
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": 32 * 32, "longest_edge": 32 * 64},
                                               patch_size=8, merge_size=2, temporal_patch_size=2)
    processor_cls = image_only(getattr(transformers, f"{arch}Processor"))
    processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer)
    return ModelBundle(name=name, model=model, processor=processor, family=family)


@register_model("tiny-qwen2-vl", family="qwen2-vl", description="random-weight Qwen2-VL, for tests", tiny=True)
def tiny_qwen2_vl(seed: int = 0) -> ModelBundle:
    vision = dict(depth=2, embed_dim=32, hidden_size=64, mlp_ratio=2, num_heads=4, patch_size=8,
                  spatial_merge_size=2, temporal_patch_size=2)
    return _build(Qwen2VLFamily(), "Qwen2VL", seed=seed, name="tiny-qwen2-vl", vision=vision)


@register_model("tiny-qwen2.5-vl", family="qwen2.5-vl", description="random-weight Qwen2.5-VL, for tests",
                tiny=True)
def tiny_qwen25_vl(seed: int = 0) -> ModelBundle:
    vision = dict(depth=2, hidden_size=32, out_hidden_size=64, intermediate_size=64, num_heads=4,
                  patch_size=8, spatial_merge_size=2, temporal_patch_size=2, window_size=32,
                  fullatt_block_indexes=[1])
    return _build(Qwen25VLFamily(), "Qwen2_5_VL", seed=seed, name="tiny-qwen2.5-vl", vision=vision)
