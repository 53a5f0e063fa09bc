"""Image resolution: one setting for every family, mapped onto what each processor understands.

``image_size`` is an edge length in pixels, ``max_pixels`` an area cap; give one or the other.

- Qwen2-VL / Qwen2.5-VL (``Family.resolution == "pixels"``): images keep their aspect ratio and
  are resized to at most ``max_pixels`` (``image_size`` means ``max_pixels = image_size**2``);
  the minimum is lowered with it when needed. Fewer pixels, fewer image tokens: one token per
  (patch x merge)^2 pixels, see :func:`qwen_image_tokens`.
- Idefics3 / SmolVLM (``"longest_edge"``): the image's longest edge is resized to ``image_size``
  (``max_pixels`` -> its square root); with image splitting it must be a multiple of the crop size.
- LLaVA, PaliGemma, Gemma3, BLIP, BLIP-2, ViLT (``"fixed"``): the vision tower takes one size
  (its position embeddings are fixed), so only that size is accepted; anything else is refused.

:func:`image_tokens` counts the image tokens the processor produces for an image size under the
current setting, for the planner and for memory estimates.
"""
from __future__ import annotations

import math
from typing import Any

from pefomed.errors import PefomedError

KINDS: tuple[str, ...] = ("fixed", "pixels", "longest_edge")


def check_resolution(image_size: int | None, max_pixels: int | None) -> None:
    """Both None or positive integers, not both set (checked before any model is built)."""
    errors = [f"{name} must be a positive integer, but got {value!r}"
              for name, value in (("image_size", image_size), ("max_pixels", max_pixels))
              if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1)]
    if image_size is not None and max_pixels is not None:
        errors.append("give image_size or max_pixels, not both")
    if errors:
        raise PefomedError("; ".join(errors))


def apply_resolution(bundle: Any, *, image_size: int | None = None, max_pixels: int | None = None) -> dict:
    """Set the bundle's image processor to the requested resolution; returns what was set
    (``{"image_size": ..., "max_pixels": ..., "processor": {...}}``; ``{}`` when nothing was asked)."""
    check_resolution(image_size, max_pixels)
    if image_size is None and max_pixels is None:
        return {}
    family = bundle.family
    processor = getattr(bundle.processor, "image_processor", None)
    if processor is None:
        raise PefomedError(f"model {bundle.name!r} has no image processor to resize with; drop "
                           "--image-size/--max-pixels")
    kind = getattr(family, "resolution", "fixed")
    if kind == "pixels":
        cap = max_pixels if max_pixels is not None else image_size * image_size
        size = dict(processor.size)
        floor = min(size.get("shortest_edge") or cap, cap)
        factor = processor.patch_size * processor.merge_size
        if cap < factor * factor:
            raise PefomedError(f"max_pixels {cap} is below one image token ({factor}x{factor} pixels) for "
                               f"{bundle.name}; give at least {factor * factor}")
        processor.size = type(processor.size)(shortest_edge=floor, longest_edge=cap)
        set_ = {"shortest_edge": floor, "longest_edge": cap}
    elif kind == "longest_edge":
        edge = image_size if image_size is not None else math.isqrt(max_pixels)
        crop = dict(getattr(processor, "max_image_size", None) or {}).get("longest_edge")
        if getattr(processor, "do_image_splitting", False) and crop:
            if edge < crop:
                raise PefomedError(f"image size {edge} is below {bundle.name}'s crop size {crop}; give at least {crop}")
            edge = edge // crop * crop
        elif crop and edge > crop:
            raise PefomedError(f"{bundle.name} does not split images, so its longest edge is at most {crop} px "
                               f"(asked {edge}); give --image-size {crop} or less")
        processor.size = type(processor.size)(longest_edge=edge)
        set_ = {"longest_edge": edge}
    else:
        native = native_size(processor)
        asked = image_size if image_size is not None else math.isqrt(max_pixels)
        if native is None or asked != native:
            raise PefomedError(f"{family.name}'s vision tower takes {native or 'one fixed size of'} px images "
                               f"(fixed position embeddings), so {asked} px cannot apply; drop "
                               "--image-size/--max-pixels")
        set_ = {"image_size": native}
    record = {"image_size": image_size, "max_pixels": max_pixels, "processor": set_}
    bundle.meta["resolution"] = record
    return record


def native_size(processor: Any) -> int | None:
    """The square edge a fixed-size image processor produces (crop size, else size), or None."""
    for attr in ("crop_size", "size"):
        size = getattr(processor, attr, None)
        if size is None:
            continue
        size = dict(size)
        if size.get("height") and size.get("height") == size.get("width"):
            return int(size["height"])
        if attr == "size" and size.get("shortest_edge"):
            return int(size["shortest_edge"])
    return None


def image_tokens(bundle: Any, width: int, height: int) -> int:
    """How many image tokens the bundle's processor makes of one ``width`` x ``height`` image
    under the current resolution setting (measured by running the processor, not the model)."""
    from PIL import Image

    from pefomed.models.prompts import build_prompt

    tok = bundle.tokenizer
    # the tokenizer's first: Gemma3's processor names its begin-of-image token image_token_id
    token_id = getattr(tok, "image_token_id", None) or getattr(bundle.processor, "image_token_id", None)
    if token_id is None:
        image_token = getattr(bundle.processor, "image_token", None) or getattr(tok, "image_token", None)
        if image_token is None:
            raise PefomedError(f"model {bundle.name!r} has no image token (cross-attention family); its text "
                               "length does not depend on the image size")
        token_id = tok.convert_tokens_to_ids(str(image_token))
    image = Image.new("RGB", (width, height))
    images = [[image]] if bundle.family.images_per_prompt else [image]
    prompt = build_prompt("x", bundle)
    if bundle.family.name == "paligemma":
        prompt = "<image>" + prompt
    enc = bundle.processor(images=images, text=[prompt], return_tensors="pt")
    return int((enc["input_ids"] == token_id).sum())


def qwen_image_tokens(width: int, height: int, *, max_pixels: int = 28 * 28 * 1280, min_pixels: int = 56 * 56,
                      patch_size: int = 14, merge_size: int = 2) -> int:
    """Image tokens Qwen2-VL/2.5-VL give a ``width`` x ``height`` image (no processor needed):
    transformers' ``smart_resize`` to multiples of patch x merge within [min_pixels, max_pixels],
    then one token per merge unit."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    factor = patch_size * merge_size
    h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return (h // factor) * (w // factor)
