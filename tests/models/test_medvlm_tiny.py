"""medvlm-tiny: ships in the package, loads offline as fp32, is deterministic, and is trainable."""
from __future__ import annotations

import json

import numpy as np
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
    assert info["instruct_steps"] > 0 and info["instruction_accuracy"]["closed"] > 0.6


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


def test_base_writes_reports_and_answers_instruction_questions(bundle):
    """Pretrained on reports, then on questions in wordings synth-rad's never uses: it states what
    it sees and answers such questions, but not yet synth-rad's own open questions."""
    from pefomed.data.synth_rad_pretraining import qa_row
    from pefomed.models.generative import encode_prompt_answer, greedy_answers

    pairs = synth_rad_captions("test", 96)
    images = [p[0] for p in pairs]
    inputs = encode_prompt_answer(bundle, images[:8], [REPORT_PROMPT] * 8, None)
    for i, report in enumerate(greedy_answers(bundle, inputs, 24)):  # modality and organ are stated right
        study = synth_rad_study("test", i)
        assert MODALITY_NAMES[study.modality] in report and study.organ in report, (report, pairs[i][1])
    rng = np.random.default_rng(0)
    rows = [qa_row(synth_rad_study("test", i), rng) for i in range(96)]
    said = greedy_answers(bundle, encode_prompt_answer(bundle, images, [r[0] for r in rows], None), 4)
    right = {kind: [s.strip() == r[1] for s, r in zip(said, rows) if r[2].endswith(kind)] for kind in ("/c", "/o")}
    assert np.mean(right["/c"]) > 0.6 and np.mean(right["/o"]) > 0.6, {k: np.mean(v) for k, v in right.items()}
    recs = [r for r in synth_rad_records("test", 90) if r.answer_type == "open"]
    answers = bundle.family.generate(bundle, [r.load_image() for r in recs], [r.question for r in recs])
    assert sum(a.strip() == r.answer for a, r in zip(answers, recs)) / len(recs) < 0.3


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
    held_out = synth_rad_records("validation", 48)
    held_inputs = tuned.family.encode(tuned, [r.load_image() for r in held_out], [r.question for r in held_out],
                                      [r.answer for r in held_out])

    def held_out_loss() -> float:
        peft_model.eval()
        with torch.no_grad():
            return peft_model(**held_inputs).loss.item()

    before = held_out_loss()
    opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=2e-3)
    for step in range(30):
        peft_model.train()
        batch = recs[8 * step:8 * step + 8]
        inputs = tuned.family.encode(tuned, [r.load_image() for r in batch], [r.question for r in batch],
                                     [r.answer for r in batch])
        peft_model(**inputs).loss.backward()
        opt.step()
        opt.zero_grad()
    # 2.47 -> 1.34 with the shipped weights (30 steps teach synth-rad's open answers)
    assert held_out_loss() < 0.85 * before
