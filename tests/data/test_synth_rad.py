"""synth-rad: deterministic, disjoint splits, every question type, balanced yes/no, sane images."""
from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from pefomed.data.record import VQARecord
from pefomed.data.synth_rad import (DEFAULT_IMAGES, synth_rad_captions, synth_rad_records,
                                    synth_rad_study)
from pefomed.data.synth_rad_text import (COUNT_ANSWERS, INTENSITY_WORDS, MODALITY_NAMES, NUMBER_WORDS,
                                         PLANE_NAMES, QUESTION_TYPES, vocabulary)
from pefomed.errors import PefomedError


def _pixels_hash(image) -> str:
    return hashlib.sha256(np.asarray(image).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def val():
    return synth_rad_records("validation")


def test_same_seed_same_records_and_pixels():
    a, b = synth_rad_records("test", 30, seed=3), synth_rad_records("test", 30, seed=3)
    assert a == b  # dataclass equality: ids, questions, answers, types
    assert [_pixels_hash(r.image) for r in a] == [_pixels_hash(r.image) for r in b]
    c = synth_rad_records("test", 30, seed=4)
    assert [r.question for r in a] != [r.question for r in c]


def test_n_only_truncates():
    short, long = synth_rad_records("train", 10), synth_rad_records("train", 31)
    assert long[:10] == short
    assert [_pixels_hash(r.image) for r in long[:10]] == [_pixels_hash(r.image) for r in short]


def test_default_sizes_and_ids(val):
    assert len(val) == 3 * DEFAULT_IMAGES["validation"]
    assert len({r.id for r in val}) == len(val)
    assert val[5].id == "synth-rad/validation/000001/q2"
    assert val[5].image_id == "synth-rad/validation/000001"
    assert all(isinstance(r, VQARecord) and r.organ and r.modality for r in val)


def test_splits_are_disjoint():
    images = {s: {_pixels_hash(r.image) for r in synth_rad_records(s, 150)} for s in ("train", "validation", "test")}
    assert len(images["train"]) == 50
    assert not images["train"] & images["validation"]
    assert not images["train"] & images["test"]
    assert not images["validation"] & images["test"]


def test_every_question_type_both_answer_types(val):
    assert {r.question_type for r in val} == set(QUESTION_TYPES)
    kinds = Counter(r.answer_type for r in val)
    assert 0.45 < kinds["closed"] / len(val) < 0.65
    closed_types = {r.question_type for r in val if r.answer_type == "closed"}
    open_types = {r.question_type for r in val if r.answer_type == "open"}
    assert closed_types == open_types == set(QUESTION_TYPES)


def test_closed_answers_are_balanced_yes_no():
    records = synth_rad_records("train")
    answers = Counter(r.answer for r in records if r.answer_type == "closed")
    assert set(answers) == {"yes", "no"}
    assert abs(answers["yes"] / sum(answers.values()) - 0.5) < 0.04
    by_type: dict[str, list[bool]] = {}
    for r in records:
        if r.answer_type == "closed":
            by_type.setdefault(r.question_type, []).append(r.answer == "yes")
    yes_share = {t: sum(v) / len(v) for t, v in by_type.items()}
    assert all(0.42 < share < 0.58 for share in yes_share.values()), yes_share  # no type answerable unseen


@pytest.mark.parametrize("size", [64, 96, 128])
def test_images_are_rgb_of_the_requested_size(size):
    pairs = synth_rad_captions("test", 6, image_size=size)
    for image, _ in pairs:
        assert image.mode == "RGB" and image.size == (size, size)
        a = np.asarray(image)
        assert (a[..., 0] == a[..., 1]).all() and a.std() > 10  # grayscale as RGB, not blank


def test_answers_agree_with_the_study_facts(val):
    for r in val[:150]:
        study = synth_rad_study("validation", int(r.image_id.rsplit("/", 1)[1]))
        assert (r.modality, r.organ, r.extra["plane"], r.extra["count"]) == (
            study.modality, study.organ, study.plane, study.count)
        if r.answer_type == "open":
            expected = {"MODALITY": MODALITY_NAMES[study.modality], "ORGAN": study.organ,
                        "PLANE": PLANE_NAMES[study.plane], "COUNT": COUNT_ANSWERS[study.count],
                        "ABN": "abnormal" if study.count else "normal",
                        "SIZE": study.size, "POS": f"{study.side} {study.level}"}
            if r.question_type in expected:
                assert r.answer == expected[r.question_type], r


def test_captions_state_the_facts_and_match_record_images():
    pairs = synth_rad_captions("test", 40)
    records = synth_rad_records("test", 120)
    for i, (image, text) in enumerate(pairs):
        study = synth_rad_study("test", i)
        assert _pixels_hash(image) == _pixels_hash(records[3 * i].image)
        assert MODALITY_NAMES[study.modality] in text and study.organ in text
        assert study.plane in text.lower()
        if study.count:
            for word in (NUMBER_WORDS[study.count], study.size, INTENSITY_WORDS[study.modality][study.intensity],
                         study.side, study.level):
                assert word in text, (word, text)
    assert len({t for _, t in pairs}) > 30  # templates vary


def test_lesions_change_pixels_where_stated():
    """A study's lesions are in the stated half of the image: removing them changes only that side."""
    from pefomed.data.synth_rad_render import Study, render

    base = dict(modality="ct", organ="abdomen", plane="axial")
    for side, level in (("left", "upper"), ("right", "lower")):
        with_lesion = render(Study(**base, count=2, size="large", intensity="hyper", side=side, level=level),
                             np.random.default_rng(1))
        without = render(Study(**base), np.random.default_rng(1))
        diff = np.abs(with_lesion - without) > 0.2
        rows, cols = np.nonzero(diff)
        assert diff.sum() > 30
        assert (cols.mean() < 32) == (side == "left") and (rows.mean() < 32) == (level == "upper")


def test_vocabulary_covers_generated_text(val):
    words = set(vocabulary())
    for r in val[:200]:
        for w in (r.question + " " + r.answer).replace("?", " ").split():
            assert w.strip(",.;:") in words or w.isdigit(), w


def test_bad_arguments_are_reported_at_once():
    with pytest.raises(PefomedError, match="split must be one of.*n >= 0.*image_size"):
        synth_rad_records("dev", -1, image_size=32)
