"""Trainable-parameter counts against hand arithmetic, and the targets that come with them.

tiny-llava: CLIP vision tower (hidden 32, 2 layers, MLP 32->64->32), projector Linear 32->64 and
64->64, Llama language model (hidden 64, 2 layers, 4 heads with 4 KV heads, MLP 64->128->64).
"""
from __future__ import annotations

import pytest

from pefomed.adapters import inject
from pefomed.models.registry import create_model

LAYERS = 2
H = 64  # language hidden
FF = 128  # language MLP width
VH = 32  # vision hidden
R = 8  # LoRA rank (adapters/lora.yaml)


def lora(n_in: int, n_out: int, r: int = R) -> int:
    """A is r x in, B is out x r."""
    return r * n_in + n_out * r


@pytest.mark.parametrize(("layers", "expected"), [
    # q, k, v, o: four 64->64 Linears per layer
    ("attention", LAYERS * 4 * lora(H, H)),  # 2 * 4 * 1024 = 8192
    # gate, up: 64->128; down: 128->64
    ("mlp", LAYERS * (2 * lora(H, FF) + lora(FF, H))),  # 2 * (2 * 1536 + 1536) = 9216
    ("all-linear", LAYERS * (4 * lora(H, H) + 2 * lora(H, FF) + lora(FF, H))),  # 17408
])
def test_lora_counts_on_tiny_llava(llava, layers: str, expected: int) -> None:
    adapted = inject(llava, "lora", layers=layers)
    assert adapted.trainable_parameters() == expected
    assert adapted.trainable_by_part() == {"vision": 0, "projector": 0, "language": expected, "head": 0, "other": 0}


def test_lora_rank_and_vision_counts(llava) -> None:
    adapted = inject(llava, "lora", parts=("vision",), settings={"r": 4})
    # q, k, v, out_proj: four 32->32 Linears per CLIP layer, rank 4
    assert adapted.trainable_parameters() == LAYERS * 4 * lora(VH, VH, r=4) == 2048
    assert adapted.vision_trainable


@pytest.mark.parametrize(("layers", "expected"), [
    # attention layers are scaled on their output: one vector of out_features (64) each
    ("attention", LAYERS * 4 * H),  # 512
    # feed-forward layers are scaled on their input: gate 64, up 64, down 128
    ("mlp", LAYERS * (H + H + FF)),  # 512
    ("all-linear", LAYERS * (4 * H + H + H + FF)),  # 1024
])
def test_ia3_counts_on_tiny_llava(llava, layers: str, expected: int) -> None:
    adapted = inject(llava, "ia3", layers=layers)
    assert adapted.trainable_parameters() == expected


def test_language_lora_leaves_the_clip_tower_alone(llava) -> None:
    # CLIP reuses q_proj/v_proj: bare names would also adapt model.vision_tower
    adapted = inject(llava, "lora", layers="all-linear")
    touched = adapted.touched_modules()
    assert len(touched) == LAYERS * 7
    assert all(name.startswith("model.language_model.layers.") for name in touched)
    assert not [n for n, _ in adapted.base.named_modules() if n.startswith("model.vision_tower") and "lora" in n]
    assert not adapted.vision_trainable


def test_vision_lora_leaves_the_language_model_alone(llava) -> None:
    touched = inject(llava, "lora", parts=("vision",)).touched_modules()
    assert touched and all(name.startswith("model.vision_tower.") for name in touched)
    assert {name.rsplit(".", 1)[1] for name in touched} == {"q_proj", "k_proj", "v_proj", "out_proj"}


def test_heads_are_never_targets(llava) -> None:
    touched = inject(llava, "lora", parts=("vision", "projector", "language"), layers="all-linear").touched_modules()
    assert "lm_head" not in touched
    assert {"model.multi_modal_projector.linear_1", "model.multi_modal_projector.linear_2"} <= set(touched)


def test_train_projector_trains_the_whole_projector(llava) -> None:
    adapted = inject(llava, "lora", train_projector=True)
    projector = (VH * H + H) + (H * H + H)  # linear_1 32->64 and linear_2 64->64, with biases
    assert adapted.trainable_by_part()["projector"] == projector == 6272
    assert "model.multi_modal_projector" in adapted.touched_modules()


def test_full_counts_every_weight_of_the_part_and_the_head(llava) -> None:
    language = sum(p.numel() for n, p in llava.model.named_parameters() if n.startswith("model.language_model."))
    head = llava.model.lm_head.weight.numel()
    adapted = inject(llava, "full")
    assert adapted.trainable_by_part() == {"vision": 0, "projector": 0, "language": language, "head": head, "other": 0}


def test_prompt_tokens_count_as_language(llava) -> None:
    adapted = inject(llava, "prompt", settings={"num_virtual_tokens": 5})
    assert adapted.trainable_by_part()["language"] == 5 * H
    assert adapted.touched_modules() == ["model.language_model.embed_tokens"]


def test_bottleneck_presets_pick_their_sites(llava) -> None:
    houlsby = inject(llava, "adapter").touched_modules()
    pfeiffer = inject(create_model("tiny-llava"), "adapter", settings={"preset": "pfeiffer"})
    assert len(houlsby) == 2 * LAYERS and len(pfeiffer.touched_modules()) == LAYERS
    assert all(n.endswith("mlp.down_proj") for n in pfeiffer.touched_modules())
    # pfeiffer's preset (adapters/adapter.yaml) chooses relu; width 64 // 16 = 4
    assert pfeiffer.settings["non_linearity"] == "relu"
    assert pfeiffer.trainable_parameters() == LAYERS * (H * 4 + 4 + 4 * H + H)


def test_qlora_keeps_heads_and_skip_modules_in_full_precision(llava) -> None:
    adapted = inject(llava, "qlora", settings={"skip_modules": ["model.vision_tower"]})
    kinds = {n: type(m).__name__ for n, m in adapted.base.named_modules()}
    assert kinds["lm_head"] == "Linear"
    assert kinds["model.vision_tower.encoder.layers.0.self_attn.q_proj"] == "Linear"
    assert kinds["model.multi_modal_projector.linear_1"] == "Linear4bit"
    assert kinds["model.language_model.layers.0.self_attn.q_proj.base_layer"] == "Linear4bit"
    # 4-bit weights are counted at their logical size
    assert adapted.total_parameters() == sum(p.numel() for p in create_model("tiny-llava").model.parameters()) \
        + adapted.trainable_parameters()
