"""medvlm-tiny: ships in the package, loads offline as fp32, is deterministic, and is trainable."""
from __future__ import annotations

import json

import pytest
import torch

from pefomed.data.synth_rad import synth_rad_captions, synth_rad_records, synth_rad_study
from pefomed.data.synth_rad_text import MODALITY_NAMES
from pefomed.errors import PefomedError
from pefomed.models.medvlm_tiny import ARCHITECTURE, ASSET_DIR, REPORT_PROMPT, medvlm_tiny
from pefomed.models.registry import MODELS, create_model


@pytest.fixture(scope="module")
def bundle():
    return create_model("medvlm-tiny")


def test_registered_as_a_pretrained_llava():
    entry = MODELS.get("medvlm-tiny")
    assert entry.family == "llava" and not entry.tiny


def test_shipped_files_are_small_and_safetensors_only():
    files = {p.name: p.stat().st_size for p in ASSET_DIR.iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files and "config.json" in files
    assert not [n for n in files if n.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert sum(files.values()) < 20e6
    info = json.loads((ASSET_DIR / "pretraining.json").read_text())
    assert info["architecture"] == ARCHITECTURE
    assert info["loss_curve"][-1][1] < info["loss_curve"][0][1]


def test_loads_offline_as_fp32_with_a_few_million_parameters(bundle):
    n = sum(p.numel() for p in bundle.model.parameters())
    assert 1e6 < n < 10e6
    assert all(p.dtype == torch.float32 for p in bundle.model.parameters())
    assert bundle.family.name == "llava" and bundle.name == "medvlm-tiny"
    assert len(bundle.tokenizer) == ARCHITECTURE["vocab_size"] == bundle.model.config.text_config.vocab_size
    assert bundle.meta["pretraining"]["steps"] > 0


def test_outputs_are_deterministic(bundle):
    recs = synth_rad_records("test", 6)
    images, questions = [r.load_image() for r in recs], [r.question for r in recs]
    first = bundle.family.generate(bundle, images, questions)
    again = create_model("medvlm-tiny")
    assert again.family.generate(again, images, questions) == first
    inputs = bundle.family.encode(bundle, images, questions)
    with torch.no_grad():
        assert torch.equal(bundle.model(**inputs).logits, again.model(**inputs).logits)


def test_base_writes_reports_not_vqa_answers(bundle):
    """Pretrained on reports only: it describes the image correctly but fails exact-match answers."""
    from pefomed.models.generative import encode_prompt_answer, greedy_answers

    pairs = synth_rad_captions("test", 8)
    inputs = encode_prompt_answer(bundle, [p[0] for p in pairs], [REPORT_PROMPT] * len(pairs), None)
    reports = greedy_answers(bundle, inputs, 24)
    for i, report in enumerate(reports):  # it learned what it sees: modality and organ are stated right
        study = synth_rad_study("test", i)
        assert MODALITY_NAMES[study.modality] in report and study.organ in report, (report, pairs[i][1])
    recs = [r for r in synth_rad_records("test", 60) if r.answer_type == "closed"]
    answers = bundle.family.generate(bundle, [r.load_image() for r in recs], [r.question for r in recs])
    assert sum(a.strip().lower() == r.answer for a, r in zip(answers, recs)) / len(recs) < 0.2


def test_missing_weights_say_how_to_rebuild(tmp_path):
    with pytest.raises(PefomedError, match="build_medvlm_tiny.py"):
        medvlm_tiny(path=tmp_path)


@pytest.mark.slow
def test_a_short_lora_run_lowers_the_vqa_loss(bundle):
    from peft import LoraConfig, get_peft_model

    model = create_model("medvlm-tiny").model
    targets = [n for n, m in model.named_modules() if n.startswith("model.language_model.")
               and isinstance(m, torch.nn.Linear)
               and n.rsplit(".", 1)[-1] in ("q_proj", "v_proj", "up_proj", "down_proj")]
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=targets))
    tuned = type(bundle)(name="t", model=peft_model, processor=bundle.processor, family=bundle.family)
    recs = synth_rad_records("train", 30 * 8)
    opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    peft_model.train()
    for step in range(30):
        batch = recs[8 * step:8 * step + 8]
        inputs = tuned.family.encode(tuned, [r.load_image() for r in batch], [r.question for r in batch],
                                     [r.answer for r in batch])
        loss = peft_model(**inputs).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
