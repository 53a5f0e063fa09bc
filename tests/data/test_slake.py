"""SLAKE 1.0 release layout: splits, language selection, field mapping."""
from __future__ import annotations

import pytest

from pefomed.data import load_dataset
from pefomed.errors import PefomedError


def test_english_by_default(slake_root):
    train = load_dataset("slake", "train", root=slake_root)
    assert [r.id for r in train] == ["train-9835", "train-11934", "train-11936"]
    mri, heart, kg = train.records
    assert (mri.answer, mri.answer_type, mri.question_type) == ("MRI", "open", "modality")
    assert (mri.organ, mri.modality, mri.image_id) == ("abdomen", "mri", "xmlab0/source.jpg")
    assert mri.image == slake_root / "imgs" / "xmlab0" / "source.jpg"
    assert (heart.answer, heart.answer_type) == ("No", "closed")
    assert kg.extra["base_type"] == "kvqa" and kg.extra["triple"] == ["vhead", "function", "breathe"]
    assert mri.extra["q_lang"] == "en" and mri.extra["img_id"] == 0


def test_language_selection(slake_root):
    zh = load_dataset("slake", "train", root=slake_root, language="zh")
    both = load_dataset("slake", "train", root=slake_root, language="all")
    assert [r.id for r in zh] == ["train-9836", "train-11935"]
    assert zh.records[0].answer == "核磁共振"
    assert [r.id for r in both] == ["train-9835", "train-9836", "train-11934", "train-11935",
                                    "train-11936"]
    with pytest.raises(PefomedError, match="unknown SLAKE language 'english'.*Known: all, en, zh"):
        load_dataset("slake", "train", root=slake_root, language="english")


def test_splits_and_aliases(slake_root):
    val = load_dataset("slake", "validate", root=slake_root)
    assert val.split == "validation" and [r.id for r in val] == ["validation-2725"]
    test = load_dataset("slake", "test", root=slake_root, language="all")
    assert len(test) == 3 and {r.image_id for r in test} == {"xmlab103/source.jpg",
                                                             "xmlab105/source.jpg"}
    with pytest.raises(PefomedError, match="unknown SLAKE split 'tset'; did you mean 'test'"):
        load_dataset("slake", "tset", root=slake_root)


def test_download_folder_above_slake1_works(slake_root):
    inner = load_dataset("slake", "test", root=slake_root)
    outer = load_dataset("slake", "test", root=slake_root.parent)
    assert outer.fingerprint == inner.fingerprint


def test_missing_files_say_where(tmp_path):
    with pytest.raises(PefomedError, match="SLAKE file not found; point root= at the Slake1.0"):
        load_dataset("slake", "train", root=tmp_path)
