"""Per-record rows collate into the processor's batch, and answer-only logits give the full loss."""
from __future__ import annotations

import pytest
import torch

from pefomed.models.answer_logits import answer_positions, gather_head_inputs
from pefomed.models.registry import FAMILIES, MODELS, create_model
from tests.models.conftest import ANSWERS, QUESTIONS, TINY, forward, make_images

GENERATIVE = [n for n in TINY if FAMILIES.get(MODELS.get(n).family).task == "generate"]
LONGER = ["what organ is shown here?", "is it"]  # rows of different lengths in both orders


def _full_loss(bundle, inputs) -> torch.Tensor:
    """The reference: every position's logits (captured at the head: BLIP VQA returns none)."""
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    with gather_head_inputs(bundle.family.output_head(bundle), None, None, labels.shape[1]) as seen:
        forward(bundle.model, inputs)
    assert seen["calls"] == 1 and seen["offset"] == 0
    logits = seen["logits"][:, :-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                             ignore_index=-100, reduction="sum")


@pytest.mark.parametrize("name", TINY)
def test_collated_rows_give_the_batch_encoding_loss(name):
    bundle = create_model(name)
    fam, images = bundle.family, make_images()
    for questions in (QUESTIONS, LONGER):
        batch = fam.encode(bundle, images, questions, ANSWERS)
        rows = [fam.encode(bundle, [im], [q], [a]) for im, q, a in zip(images, questions, ANSWERS)]
        collated = fam.collate(bundle, rows)
        assert set(collated) == set(batch)
        assert torch.equal(collated["labels"], batch["labels"])
        if fam.task == "generate":
            got, ref = _full_loss(bundle, collated), _full_loss(bundle, batch)
        else:
            got, ref = forward(bundle.model, collated).loss, forward(bundle.model, batch).loss
        assert abs(got.item() - ref.item()) <= 1e-6 * max(1.0, abs(ref.item())), name


@pytest.mark.parametrize("name", GENERATIVE)
def test_answer_only_logits_give_the_full_logits_loss(name):
    bundle = create_model(name)
    fam = bundle.family
    inputs = fam.encode(bundle, make_images(), LONGER, ANSWERS)
    labels = inputs.pop("labels")
    ref = _full_loss(bundle, {**inputs, "labels": labels})
    rows, positions, targets = answer_positions(labels)
    assert 0 < len(targets) < labels.numel()  # prompt, image and padding positions are skipped
    with gather_head_inputs(fam.output_head(bundle), rows, positions, labels.shape[1]) as seen:
        forward(bundle.model, inputs)
    logits = seen["logits"]
    assert seen["calls"] == 1 and logits.shape[-2] == len(targets)
    got = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, reduction="sum")
    assert abs(got.item() - ref.item()) <= 1e-6 * max(1.0, abs(ref.item())), name
