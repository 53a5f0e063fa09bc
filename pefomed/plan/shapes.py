"""Read a model's shapes from its config: towers, tokens per image, vocabulary.

Families lay their configs out differently (Qwen's vision ``depth``/``embed_dim``, OPT's
``ffn_dim``, BLIP-2's 32 query tokens); this module turns each into :class:`Tower` fields and
the number of tokens an image becomes in the language model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TowerShape:
    name: str
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    tokens_per_image: int  # tokens inside this tower per image (vision) / 0 (language)
    gated: bool
    rms_norm: bool


def _get(cfg: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        v = getattr(cfg, n, None)
        if v is not None:
            return v
    return default


def image_side(config: Any, image_size: int | None) -> int:
    vc = getattr(config, "vision_config", None)
    native = _get(vc, "image_size", default=448) if vc is not None else 448
    return int(image_size or native)


def vision_shape(config: Any, model_type: str, image_size: int | None) -> TowerShape | None:
    vc = getattr(config, "vision_config", None)
    if vc is None:
        return None
    side = image_side(config, image_size)
    if model_type in ("qwen2_vl", "qwen2_5_vl"):
        hidden = _get(vc, "embed_dim", "hidden_size")
        if model_type == "qwen2_vl":
            hidden = _get(vc, "embed_dim", default=1280)
        inter = _get(vc, "intermediate_size", default=None) if model_type == "qwen2_5_vl" else None
        inter = inter or int(hidden * _get(vc, "mlp_ratio", default=4))
        heads = _get(vc, "num_heads", default=16)
        patch = _get(vc, "patch_size", "spatial_patch_size", default=14)
        grid = max(1, round(side / patch))
        return TowerShape("vision", _get(vc, "depth", default=32), hidden, inter, heads, heads, hidden // heads,
                          grid * grid, gated=model_type == "qwen2_5_vl", rms_norm=model_type == "qwen2_5_vl")
    hidden = _get(vc, "hidden_size")
    heads = _get(vc, "num_attention_heads", default=16)
    patch = _get(vc, "patch_size", default=14)
    native = _get(vc, "image_size", default=side)
    tiles = 1
    if model_type in ("idefics3", "smolvlm") and side > native:
        tiles = math.ceil(side / native) ** 2 + 1  # the image is split into tiles plus a global view
        side = native
    grid = max(1, side // patch)
    cls = 1 if model_type in ("llava", "blip-2") else 0
    return TowerShape("vision", _get(vc, "num_hidden_layers"), hidden, _get(vc, "intermediate_size"), heads, heads,
                      hidden // heads, tiles * (grid * grid + cls), gated=False, rms_norm=False)


def image_tokens_in_lm(config: Any, model_type: str, vision: TowerShape | None) -> int:
    """How many language-model positions one image takes."""
    if vision is None:
        return 0
    if model_type == "blip-2":
        return int(_get(config, "num_query_tokens", default=32))
    if model_type == "gemma3":
        return int(_get(config, "mm_tokens_per_image", default=256))
    if model_type in ("qwen2_vl", "qwen2_5_vl"):
        merge = _get(config.vision_config, "spatial_merge_size", default=2)
        return vision.tokens_per_image // (merge * merge)
    if model_type in ("idefics3", "smolvlm"):
        return vision.tokens_per_image // int(_get(config, "scale_factor", default=2)) ** 2
    if model_type == "llava":
        drop_cls = _get(config, "vision_feature_select_strategy", default="default") == "default"
        return vision.tokens_per_image - (1 if drop_cls else 0)
    return vision.tokens_per_image


def language_shape(config: Any) -> tuple[TowerShape, int]:
    """The language model's tower and its vocabulary size."""
    tc = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = _get(tc, "hidden_size")
    heads = _get(tc, "num_attention_heads")
    model_type = getattr(tc, "model_type", "")
    opt = model_type == "opt"
    inter = _get(tc, "ffn_dim") if opt else _get(tc, "intermediate_size")
    head_dim = _get(tc, "head_dim", default=None) or hidden // heads
    tower = TowerShape("language", _get(tc, "num_hidden_layers"), hidden, inter, heads,
                       _get(tc, "num_key_value_heads", default=heads), head_dim, 0, gated=not opt, rms_norm=not opt)
    return tower, int(_get(tc, "vocab_size"))
