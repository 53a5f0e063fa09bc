"""Behaviour particular to one family: ViLT's label space, BLIP's answer decoder, Qwen's positions."""
from __future__ import annotations

import pytest
import torch

from pefomed.errors import PefomedError
from pefomed.models.registry import create_model
from tests.models.conftest import ANSWERS, QUESTIONS, forward, make_images


def test_vilt_label_space_comes_from_the_labels_argument_and_unknown_answers_get_no_target():
    bundle = create_model("tiny-vilt", labels=["Liver", "yes", "no", "liver"])
    assert bundle.model.config.id2label == {0: "liver", 1: "yes", 2: "no"}
    enc = bundle.family.encode(bundle, make_images(), QUESTIONS, ["YES ", "spleen"])
    assert enc["labels"].tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert set(bundle.family.generate(bundle, make_images(), QUESTIONS)) <= {"liver", "yes", "no"}


def test_vilt_refuses_an_empty_label_space():
    with pytest.raises(PefomedError, match="at least one label"):
        create_model("tiny-vilt", labels=[])


def test_vilt_is_a_classifier_with_its_head_apart_and_no_vision_tower_to_adapt():
    bundle = create_model("tiny-vilt")
    assert bundle.family.task == "classify" and bundle.family.anatomy.head == ("classifier",)
    assert bundle.family.untargetable("lora", "vision") and bundle.family.untargetable("ia3", "projector")


def test_blip_decoder_inputs_start_with_the_start_token_and_end_with_the_separator():
    bundle = create_model("tiny-blip")
    text = bundle.model.config.text_config
    enc = bundle.family.encode(bundle, make_images(), QUESTIONS, ANSWERS)
    ids, mask = enc["decoder_input_ids"], enc["decoder_attention_mask"]
    assert (ids[:, 0] == text.bos_token_id).all()
    for row, m in zip(ids, mask):
        assert row[m.bool()][-1].item() == text.sep_token_id
    assert "decoder_input_ids" not in bundle.family.encode(bundle, make_images(), QUESTIONS)


@pytest.mark.parametrize("name", ["tiny-qwen2-vl", "tiny-qwen2.5-vl"])
def test_qwen_precomputed_positions_equal_the_models_own(name):
    bundle = create_model(name)
    enc = bundle.family.encode(bundle, make_images(), QUESTIONS, ANSWERS)
    assert enc["position_ids"].shape == (3, *enc["input_ids"].shape)
    derived = {k: v for k, v in enc.items() if k != "position_ids"}
    assert torch.equal(forward(bundle.model, enc).logits, forward(bundle.model, derived).logits)


def test_paligemma_marks_the_answer_as_suffix_for_its_prefix_lm_mask():
    bundle = create_model("tiny-paligemma")
    enc = bundle.family.encode(bundle, make_images(), QUESTIONS, ANSWERS)
    answer = enc["labels"] != -100
    assert torch.equal(enc["token_type_ids"].bool() & enc["attention_mask"].bool(), answer)
    assert "labels" not in bundle.family.encode(bundle, make_images(), QUESTIONS)
