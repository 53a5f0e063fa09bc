"""medvlm-tiny's pretraining data: never synth-rad's VQA questions, balanced yes/no, answers in
synth-rad's open-answer vocabulary, deterministic per step."""
from __future__ import annotations

import collections

import numpy as np

from pefomed.data.synth_rad import synth_rad_records, synth_rad_study
from pefomed.data.synth_rad_pretraining import DIRECTED_WORDINGS, QA_PROMPT, instruct_batch, qa_row, report_batch


def _rows(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(i, *qa_row(synth_rad_study("train", i), rng)) for i in range(n)]


def test_no_instruction_question_is_a_synth_rad_vqa_question():
    vqa = {r.question for split in ("train", "validation", "test") for r in synth_rad_records(split)}
    asked = {prompt[len("<image>\nQuestion: "):-len(" Answer:")] for _, prompt, _, _ in _rows(4000)}
    assert len(asked) > 250  # the wordings vary
    assert not asked & vqa


def test_prompts_use_the_family_plain_vqa_template():
    for _, prompt, _, _ in _rows(50):
        body = prompt[len("<image>\nQuestion: "):-len(" Answer:")]
        assert prompt == QA_PROMPT.format(body)


def test_yes_no_answers_are_balanced_within_every_kind_of_fact():
    answers = collections.defaultdict(list)
    for _, _, answer, kind in _rows(6000):
        if kind.endswith("/c"):
            answers[kind].append(answer)
    assert set(answers) == {f"{k}/c" for k in ("modality", "organ", "plane", "presence", "impression", "count",
                                               "size", "side", "level", "intensity")}
    for kind, said in answers.items():
        assert set(said) == {"yes", "no"}
        assert 0.35 < said.count("yes") / len(said) < 0.65, (kind, said.count("yes") / len(said))


def test_answers_are_true_of_the_image_and_written_as_synth_rads_open_answers():
    vocabulary = {r.answer for r in synth_rad_records("train") if r.answer_type == "open"}
    for i, prompt, answer, kind in _rows(800):
        study = synth_rad_study("train", i)
        if kind.endswith("/o"):
            assert answer in vocabulary, (prompt, answer)
        if kind == "modality/o":
            assert answer == {"ct": "CT", "mri": "MRI", "x-ray": "X-ray"}[study.modality]
        if kind == "presence/c":
            asks_lesion = any(prompt == QA_PROMPT.format(w) for w in DIRECTED_WORDINGS["presence"][0])
            assert (answer == "yes") == (asks_lesion == (study.count > 0)), (prompt, study)
        if kind == "organ/c":
            assert (answer == "yes") == (study.organ in prompt), (prompt, study)


def test_batches_are_deterministic_per_step_and_keep_a_share_of_report_rows():
    first, again = instruct_batch(7, 16, 0), instruct_batch(7, 16, 0)
    assert first[1:] == again[1:]
    assert instruct_batch(8, 16, 0)[1] != first[1]
    kept = 0
    for step in range(20):
        _, prompts, texts = instruct_batch(step, 16, 0)
        _, report_prompts, reports = report_batch(step, 16, 0)
        same = [k for k in range(16) if prompts[k] == report_prompts[k]]
        assert all(texts[k] == reports[k] for k in same)
        kept += len(same)
    assert 0.1 < kept / (20 * 16) < 0.3  # QA_P = 0.8 of the rows become questions
