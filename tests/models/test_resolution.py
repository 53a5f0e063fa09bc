"""One image-resolution setting: Qwen's pixel cap changes the image-token count; fixed towers refuse."""
from __future__ import annotations

import pytest

from pefomed.errors import PefomedError
from pefomed.models.registry import create_model
from pefomed.models.resolution import apply_resolution, check_resolution, image_tokens, qwen_image_tokens


def test_max_pixels_changes_the_image_token_count_on_qwen2_vl():
    bundle = create_model("tiny-qwen2-vl")
    assert image_tokens(bundle, 64, 32) == 8  # 32x64 px, 8 px patches merged 2x2
    record = apply_resolution(bundle, max_pixels=32 * 32)
    assert record["processor"] == {"shortest_edge": 1024, "longest_edge": 1024}
    assert image_tokens(bundle, 64, 32) == 2
    assert qwen_image_tokens(64, 32, max_pixels=1024, min_pixels=1024, patch_size=8) == 2
    apply_resolution(bundle, image_size=64)  # image_size on Qwen: max_pixels = 64^2
    assert image_tokens(bundle, 64, 32) == 8 and bundle.meta["resolution"]["image_size"] == 64


def test_real_qwen_defaults_for_the_planner():
    # Qwen2-VL's own processor: 14 px patches, 2x2 merge, up to 1280 tokens; a 2,321 px VQA-RAD image
    assert qwen_image_tokens(2321, 2321) <= 1280
    assert qwen_image_tokens(2321, 2321, max_pixels=448 * 448) == 256


def test_fixed_size_towers_accept_only_their_size_and_settings_are_checked():
    bundle = create_model("tiny-llava")
    assert apply_resolution(bundle, image_size=32)["processor"] == {"image_size": 32}
    with pytest.raises(PefomedError, match="llava's vision tower takes 32 px images"):
        apply_resolution(bundle, image_size=64)
    with pytest.raises(PefomedError, match="give image_size or max_pixels, not both"):
        check_resolution(32, 1024)
    with pytest.raises(PefomedError, match="does not split images, so its longest edge is at most 32"):
        apply_resolution(create_model("tiny-idefics3"), image_size=64)
