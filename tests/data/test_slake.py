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


def _with_empty_answer(root):
    """The official SLAKE 1.0 train.json has one record whose answer is empty; add one like it."""
    import json

    path = root / "train.json"
    rows = json.loads(path.read_text("utf-8"))
    rows.append(dict(rows[0], qid=9999, question="Which part of the body does this image belong to?",
                     answer=""))
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def test_the_release_as_published_skips_and_counts_the_empty_answer(slake_root):
    _with_empty_answer(slake_root)
    train = load_dataset("slake", "train", root=slake_root)
    assert len(train) == 3 and train.skipped == 1 and train.skip_counts == {"empty answer": 1}
    assert train.skip_note() == "slake train: 1 record skipped: empty answer"
    assert train.summary()["skipped_by_kind"] == {"empty answer": 1}
    with pytest.raises(PefomedError, match="record 5 \\(id 'train-9999'\\): empty answer"):
        load_dataset("slake", "train", root=slake_root, on_bad_record="error")


def test_pefomed_train_on_the_official_layout(slake_root, tmp_path):
    import json

    from click.testing import CliRunner

    from pefomed.cli import main

    _with_empty_answer(slake_root)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--model", "tiny-llava", "--dataset", "slake", "--dataset-root",
                                       str(slake_root.parent), "--eval-split", "test", "--adapter", "lora",
                                       "--max-steps", "1", "--batch-size", "2", "--device", "cpu", "--set", "r=2",
                                       "--language", "all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "slake train: 1 record skipped: empty answer" in result.output
    run = json.loads((out / "run.json").read_text())
    assert run["notes"][0] == "slake train: 1 record skipped: empty answer"
    assert run["datasets"]["train"]["skipped"] == 1 and run["datasets"]["train"]["n"] == 5
    assert run["spec"]["language"] == "all" and run["metrics"]["n"] == 3
