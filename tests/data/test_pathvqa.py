"""PathVQA: Hugging Face parquet and saved layouts, the original release as JSON, pickles refused."""
from __future__ import annotations

import pytest
from PIL import Image

from pefomed.data import load_dataset, open_image
from pefomed.errors import PefomedError

EXPECTED_TRAIN = [("histone subunits", "open"), ("yes", "closed"), ("no", "closed")]


def _pairs(split):
    return [(r.answer, r.answer_type) for r in split]


def test_hf_parquet_layout(pathvqa_parquet):
    train = load_dataset("pathvqa", "train", root=pathvqa_parquet)  # two shards
    assert _pairs(train) == EXPECTED_TRAIN
    assert [r.id for r in train] == ["train-0", "train-1", "train-2"]
    first = train.records[0]
    assert isinstance(first.image, Image.Image) and open_image(first).size == (8, 8)
    assert train.records[0].image is train.records[1].image  # same bytes -> one image
    val = load_dataset("pathvqa", "val", root=pathvqa_parquet)
    assert val.split == "validation" and _pairs(val) == [("oral", "open"), ("yes", "closed")]
    test = load_dataset("pathvqa", "test", root=pathvqa_parquet)
    assert _pairs(test)[1] == ("Yes", "closed")  # answer kept, type from yes/no in any case


def test_hf_saved_layout_matches_parquet(pathvqa_saved, pathvqa_parquet):
    saved = load_dataset("pathvqa", "train", root=pathvqa_saved)
    parquet = load_dataset("pathvqa", "train", root=pathvqa_parquet)
    assert _pairs(saved) == EXPECTED_TRAIN
    assert saved.fingerprint == parquet.fingerprint  # identity = hash of the encoded bytes


def test_original_layout_as_json(pathvqa_original):
    train = load_dataset("pathvqa", "train", root=pathvqa_original)
    assert _pairs(train) == EXPECTED_TRAIN
    assert train.records[0].image == pathvqa_original / "images" / "train" / "train_0000.jpg"
    assert train.records[0].image_id == "train_0000.jpg"
    val = load_dataset("pathvqa", "validation", root=pathvqa_original.parent / "pathvqa")
    assert len(val) == 2 and val.records[0].image.parent.name == "val"


def test_pvqa_subfolder_is_found(pathvqa_original, tmp_path):
    outer = tmp_path / "download"
    outer.mkdir()
    pathvqa_original.rename(outer / "pvqa")
    assert len(load_dataset("pathvqa", "test", root=outer)) == 2


def test_pickle_only_release_is_refused(tmp_path):
    qas = tmp_path / "qas" / "train"
    qas.mkdir(parents=True)
    (qas / "train_qa.pkl").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(PefomedError) as err:
        load_dataset("pathvqa", "train", root=tmp_path)
    msg = str(err.value)
    assert "never unpickled" in msg and "python -c" in msg and "train_qa.json" in msg
    assert "\n" not in msg


def test_unknown_layout_lists_what_is_expected(tmp_path):
    with pytest.raises(PefomedError, match=r"no PathVQA data for split 'test'.*parquet"):
        load_dataset("pathvqa", "test", root=tmp_path)
