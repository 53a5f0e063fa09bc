"""VQA-RAD: counts on the real copy (CI has it), and the quirks on a small fake."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from pefomed.data import load_dataset
from pefomed.errors import PefomedError

vqarad = pytest.mark.vqarad


@pytest.fixture(scope="module")
def splits(vqa_rad_root):
    return {s: load_dataset("vqa-rad", s, root=vqa_rad_root)
            for s in ("train", "test", "validation", "train-minus-validation")}


@vqarad
def test_published_counts(splits, vqa_rad_root):
    test = splits["test"]
    assert len(test) == 451 and test.skipped == 0
    assert Counter(r.answer_type for r in test) == {"closed": 272, "open": 179}
    assert len(splits["train"]) == 3064
    original = load_dataset("vqa-rad", "all", root=vqa_rad_root, layout="original")
    assert len(original) == 2248
    assert Counter(r.answer_type for r in original) == {"closed": 1299, "open": 949}  # 2 "CLOSED "


@vqarad
def test_default_root_is_data_root(splits):
    default = load_dataset("vqa-rad", "test")
    assert default.fingerprint == splits["test"].fingerprint


@vqarad
def test_field_mapping(splits, vqa_rad_root):
    raw = {r["qid"]: r for r in json.loads((vqa_rad_root / "trainset.json").read_text())}
    by_id = {r.id: r for r in splits["train"]}
    count = by_id["train-2392"]  # "answer": 4 in the file
    assert count.answer == "4" and count.answer_type == "open" and count.question_type == "count"
    multi = next(r for r in splits["train"] if "," in r.extra["question_type_raw"])
    assert multi.question_type == multi.extra["question_type_raw"].split(",")[0].strip().lower()
    assert {r.organ for r in splits["train"]} == {"chest", "abd", "head"}
    assert {r.modality for r in splits["train"]} == {""}
    assert all(r.answer == r.answer.strip() and r.answer for r in splits["train"])
    assert all(r.image.is_file() and r.image.name == r.image_id for r in splits["test"])
    assert all(r.question == raw[r.extra["qid"]]["question"].strip() for r in splits["train"])


@vqarad
def test_validation_holds_out_whole_images(splits):
    val, rest, train = splits["validation"], splits["train-minus-validation"], splits["train"]
    assert len(val) + len(rest) == len(train)
    assert {r.id for r in val} | {r.id for r in rest} == {r.id for r in train}
    assert not {r.image_id for r in val} & {r.image_id for r in rest}
    n_images = len({r.image_id for r in train})
    assert len({r.image_id for r in val}) == round(0.1 * n_images)
    # The hold-out ignores load_dataset(seed=...) and follows validation_seed.
    again = load_dataset("vqa-rad", "validation", root=train.root, seed=123)
    assert again.fingerprint == val.fingerprint
    other = load_dataset("vqa-rad", "val", root=train.root, validation_seed=1)
    assert other.split == "validation" and other.fingerprint != val.fingerprint


@vqarad
def test_fingerprint_stable_and_validate_images(splits, vqa_rad_root):
    again = load_dataset("vqa-rad", "test", root=vqa_rad_root, validate_images=True)
    assert again.fingerprint == splits["test"].fingerprint
    assert len({r.id for r in splits["train"]}) == 3064


@vqarad
def test_limit_on_real_data(vqa_rad_root):
    a = load_dataset("vqa-rad", "test", root=vqa_rad_root, limit=50, seed=3)
    b = load_dataset("vqa-rad", "test", root=vqa_rad_root, limit=50, seed=3)
    assert len(a) == 50 and a.fingerprint == b.fingerprint


def test_quirks_on_fake_copy(vqa_rad_fake):
    recs = load_dataset("vqa-rad", "train", root=vqa_rad_fake).records
    assert [r.id for r in recs] == ["train-1", "train-2", "train-3"]
    assert [r.answer_type for r in recs] == ["closed", "open", "open"]  # "CLOSED " trimmed
    assert [r.answer for r in recs] == ["yes", "4", "left"]
    assert [r.question_type for r in recs] == ["pres", "count", "attrib"]  # typo ATRIB fixed
    assert recs[0].extra["question_type_raw"] == "PRES, POS" and recs[0].organ == "chest"


def test_layout_and_split_errors(vqa_rad_fake):
    with pytest.raises(PefomedError, match="needs layout='original'"):
        load_dataset("vqa-rad", "all", root=vqa_rad_fake)
    with pytest.raises(PefomedError, match="this folder has layout='split'"):
        load_dataset("vqa-rad", "all", root=vqa_rad_fake, layout="original")
    with pytest.raises(PefomedError, match="did you mean 'original'"):
        load_dataset("vqa-rad", "test", root=vqa_rad_fake, layout="orignal")
    with pytest.raises(PefomedError, match="0 < fraction < 1"):
        load_dataset("vqa-rad", "validation", root=vqa_rad_fake, validation_fraction=1.5)
