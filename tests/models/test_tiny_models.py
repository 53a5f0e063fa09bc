"""Every registered tiny model: small, seeded, answer-only labels, trainable, generates, reloads."""
from __future__ import annotations

import json

import pytest
import torch

from pefomed.errors import PefomedError, UnknownNameError
from pefomed.models.registry import MODELS, create_model
from tests.models.conftest import ANSWERS, QUESTIONS, TINY, forward, make_images, output_tensor


def test_every_family_has_a_tiny_model():
    families = {MODELS.get(n).family for n in TINY}
    assert {"llava", "qwen2-vl", "qwen2.5-vl", "idefics3", "smolvlm", "paligemma", "gemma3", "blip2", "blip",
            "vilt"} <= families


def test_tiny_model_is_small_and_vocab_differs_from_every_layer_width(bundle):
    model = bundle.model
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    vocab = model.get_input_embeddings().num_embeddings
    assert len(bundle.tokenizer) <= vocab
    widths = {d for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
              and bundle.family.anatomy.part_of(name) != "head" for d in (m.in_features, m.out_features)}
    assert vocab not in widths


@pytest.mark.parametrize("name", TINY)
def test_same_seed_same_weights_other_seed_other_weights(name):
    a, b, c = (create_model(name, seed=s).model.state_dict() for s in (0, 0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point() and a[k].numel() > 1)


def test_labels_cover_exactly_the_answer(bundle, images):
    enc = bundle.family.encode(bundle, images, QUESTIONS, ANSWERS)
    if bundle.family.task == "classify":
        label2id = bundle.model.config.label2id
        expected = torch.zeros_like(enc["labels"])
        for row, answer in enumerate(ANSWERS):
            expected[row, label2id[answer]] = 1.0
        assert torch.equal(enc["labels"], expected)
        return
    tok = bundle.tokenizer
    for row, answer in zip(enc["labels"], ANSWERS):
        assert tok.decode(row[row != -100]).strip() == f"{answer}{tok.eos_token}"


def test_forward_backward_gives_a_finite_loss_and_gradients(bundle, images):
    enc = bundle.family.encode(bundle, images, QUESTIONS, ANSWERS)
    bundle.model.train()
    out = bundle.model(**enc)
    out.loss.backward()
    grads = [p.grad for p in bundle.model.parameters() if p.grad is not None]
    assert torch.isfinite(out.loss) and grads and all(torch.isfinite(g).all() for g in grads)


def test_generate_returns_one_string_per_question(bundle, images):
    answers = bundle.family.generate(bundle, images, QUESTIONS, max_new_tokens=3)
    assert len(answers) == len(QUESTIONS) and all(isinstance(a, str) for a in answers)
    if bundle.family.task == "classify":
        assert set(answers) <= set(bundle.model.config.label2id)


def _save(bundle, folder):
    bundle.model.save_pretrained(folder)
    bundle.processor.save_pretrained(folder)
    return folder


def test_saved_folder_reloads_with_its_family_and_identical_outputs(bundle, images, tmp_path):
    enc = bundle.family.encode(bundle, images, QUESTIONS, ANSWERS)
    reloaded = create_model(str(_save(bundle, tmp_path)))
    assert reloaded.family.name == bundle.family.name
    enc2 = reloaded.family.encode(reloaded, images, QUESTIONS, ANSWERS)
    assert enc.keys() == enc2.keys() and all(torch.equal(enc[k], enc2[k]) for k in enc)
    assert torch.equal(output_tensor(forward(bundle.model, enc)), output_tensor(forward(reloaded.model, enc2)))
    assert not [p.name for p in tmp_path.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl"}]


def test_family_override_wins_over_detection(tmp_path):
    bundle = create_model("tiny-idefics3")  # same architecture as SmolVLM: the override must be obeyed
    reloaded = create_model(str(_save(bundle, tmp_path)), family="smolvlm")
    assert reloaded.family.name == "smolvlm"
    enc = reloaded.family.encode(reloaded, make_images(), QUESTIONS, ANSWERS)
    assert torch.equal(forward(bundle.model, enc).logits, forward(reloaded.model, enc).logits)


def test_processors_without_video_save_under_the_original_class_name(tmp_path):
    bundle = create_model("tiny-smolvlm")
    bundle.processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["processor_class"] == "SmolVLMProcessor" and saved["image_seq_len"] == 4
    assert not hasattr(bundle.processor, "video_processor")


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'tiny-qwen2-vl'"):
        create_model("tiny-qwen2vl")


def test_unknown_family_override_suggests_the_closest(tmp_path):
    _save(create_model("tiny-llava"), tmp_path)
    with pytest.raises(PefomedError, match="did you mean 'llava'"):
        create_model(str(tmp_path), family="lava")


def test_folder_with_only_pickle_weights_is_refused(tmp_path):
    create_model("tiny-llava").model.config.save_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(PefomedError, match="only pickle weights"):
        create_model(str(tmp_path))


def test_folder_of_an_unknown_architecture_names_the_families(tmp_path):
    from transformers import BertConfig

    BertConfig(vocab_size=99, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=8).save_pretrained(tmp_path)
    with pytest.raises(PefomedError, match="no registered family handles model_type 'bert'.*qwen2-vl"):
        create_model(str(tmp_path))
