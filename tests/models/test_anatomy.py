"""Anatomy and layer kinds: every Linear layer has a part and the right kind, for every family."""
from __future__ import annotations

import pytest
import torch

from pefomed.models.base import PARTS, Anatomy
from pefomed.models.registry import FAMILIES


def _linears(bundle) -> dict[str, tuple[str | None, str | None]]:
    fam = bundle.family
    return {name: (fam.anatomy.part_of(name), fam.layer_kind(name))
            for name, m in bundle.model.named_modules() if isinstance(m, torch.nn.Linear)}


def test_every_parameter_belongs_to_a_part_or_the_head(bundle):
    orphans = [n for n, _ in bundle.model.named_parameters() if bundle.family.anatomy.part_of(n) is None]
    assert not orphans


def test_each_part_has_attention_and_mlp_linears_unless_declared_untargetable(bundle):
    fam, layers = bundle.family, _linears(bundle)
    for part in PARTS:
        kinds = {kind for p, kind in layers.values() if p == part}
        if fam.untargetable("lora", part):
            assert not kinds, f"{part} is declared untargetable but has Linear layers"
        elif part == "projector":
            assert kinds == {"mlp"} or kinds == {"attention", "mlp"}  # BLIP-2's Q-Former has attention
        else:
            assert {"attention", "mlp"} <= kinds, f"{part}: {kinds}"


def test_attention_and_mlp_are_disjoint_and_never_cross_parts(bundle):
    fam, layers = bundle.family, _linears(bundle)
    vision = set(fam.anatomy.vision)
    for name, (part, kind) in layers.items():
        if any(name == p or name.startswith(p + ".") for p in vision) and part != "projector":
            assert part == "vision", f"{name} is in the vision tower but classified {part}"
        if part in (None, "head"):
            assert kind is None, f"head layer {name} got kind {kind}"
    attention = {n for n, (_, k) in layers.items() if k == "attention"}
    mlp = {n for n, (_, k) in layers.items() if k == "mlp"}
    assert attention and mlp and not attention & mlp


@pytest.mark.parametrize("name, kind", [
    ("model.visual.blocks.0.attn.qkv", "attention"),  # Qwen's fused projection
    ("model.visual.blocks.0.attn.proj", "attention"),
    ("model.visual.blocks.0.mlp.fc2", "mlp"),
    ("text_encoder.encoder.layer.0.attention.self.query", "attention"),  # BERT style (BLIP, ViLT)
    ("text_encoder.encoder.layer.0.attention.output.dense", "attention"),
    ("text_encoder.encoder.layer.0.crossattention.output.dense", "attention"),
    ("text_encoder.encoder.layer.0.intermediate.dense", "mlp"),
    ("text_encoder.encoder.layer.0.output.dense", "mlp"),
    ("text_encoder.encoder.layer.0.attention.self.key_norm", None),
])
def test_layer_kind_reads_context_not_just_the_leaf(name, kind):
    anatomy = Anatomy(vision=("model.visual",), projector=(), language=("text_encoder",))
    assert anatomy.layer_kind(name) == kind


def test_projector_nested_in_the_vision_tower_counts_as_projector():
    anatomy = FAMILIES.get("qwen2-vl").anatomy
    assert anatomy.part_of("model.visual.merger.mlp.0") == "projector"
    assert anatomy.part_of("model.visual.blocks.1.attn.qkv") == "vision"


def test_gemma3_projector_has_no_linear_and_says_why():
    fam = FAMILIES.get("gemma3")
    assert "raw weight" in fam.untargetable("lora", "projector")
    assert fam.untargetable("lora", "language") is None


def test_unsupported_adapters_are_named_with_a_reason():
    matrix = {name: fam.unsupported for name, fam in FAMILIES.items()}
    assert set(matrix["blip"]) == set(matrix["vilt"]) == {"prefix", "prompt"}
    assert set(matrix["blip2"]) == set(matrix["qwen2-vl"]) == set(matrix["qwen2.5-vl"]) == {"prefix", "prompt"}
    assert set(matrix["paligemma"]) == {"prompt"}
    assert all(not matrix[f] for f in ("llava", "idefics3", "smolvlm", "gemma3"))
    assert all(len(r) > 20 and "\n" not in r for reasons in matrix.values() for r in reasons.values())

