"""The generic loader: JSON, JSONL, CSV, Parquet, saved HF datasets, folders and field mapping."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from pefomed.data import load_dataset, open_image
from pefomed.errors import PefomedError

from .conftest import png_bytes, write_image, write_json

ROWS = [
    {"image": "imgs/a.png", "question": "Is there a mass?", "answer": "Yes", "organ": "Chest"},
    {"image": "imgs/b.png", "question": "Which organ?", "answer": "liver", "answer_type": "OPEN"},
    {"image": "imgs/a.png", "question": "How many?", "answer": 3, "id": "q7"},
]


@pytest.fixture
def folder(tmp_path):
    write_image(tmp_path / "imgs" / "a.png", 10)
    write_image(tmp_path / "imgs" / "b.png", 200)
    return tmp_path


def _check(split):
    assert [r.answer for r in split] == ["Yes", "liver", "3"]
    assert [r.answer_type for r in split] == ["closed", "open", "open"]  # inferred, given, inferred
    assert split.records[0].organ == "chest" and split.records[2].id == "q7"
    assert split.records[0].image_id == "imgs/a.png" and split.records[0].image.is_file()


def test_json_list(folder):
    _check(load_dataset(str(write_json(folder / "data.json", ROWS))))


def test_jsonl(folder):
    path = folder / "data.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    _check(load_dataset(path))


def test_csv(folder):
    path = folder / "data.csv"
    path.write_text("id,image,question,answer,answer_type,organ\n,imgs/a.png,Is there a mass?,"
                    "Yes,,Chest\n,imgs/b.png,Which organ?,liver,OPEN,\nq7,imgs/a.png,How many?,3,,\n")
    _check(load_dataset(str(path)))


def test_content_ids_are_stable_and_unique(folder):
    rows = [{"image": "imgs/a.png", "question": "q?", "answer": "no"}] * 2
    path = write_json(folder / "dup.json", rows)
    first, second = load_dataset(str(path)), load_dataset(str(path))
    ids = [r.id for r in first]
    assert ids == [r.id for r in second] and ids[1] == f"{ids[0]}-2" and len(ids[0]) == 16


def test_field_mapping_and_root(folder, tmp_path):
    rows = [{"img": "a.png", "q": "Is it normal?", "label": "no", "kind": "closed", "uid": 5}]
    path = write_json(tmp_path / "elsewhere" / "ann.json", rows)
    split = load_dataset(str(path), root=folder / "imgs",
                         fields={"image": "img", "question": "q", "answer": "label",
                                 "answer_type": "kind", "id": "uid"})
    assert [(r.id, r.answer, r.image_id) for r in split] == [("5", "no", "a.png")]
    with pytest.raises(PefomedError, match=r"unknown field 'imag'; did you mean 'image'.*"
                                           r"fields\['question'\] must be a non-empty"):
        load_dataset(str(path), fields={"imag": "img", "question": ""})


def test_folder_of_split_files(folder):
    write_json(folder / "train.json", ROWS[:2])
    write_json(folder / "val.json", ROWS[2:])
    assert len(load_dataset(str(folder), "train")) == 2
    val = load_dataset(str(folder), "validation")
    assert val.split == "validation" and [r.id for r in val] == ["q7"]
    with pytest.raises(PefomedError, match="no annotation file for split 'test'"):
        load_dataset(str(folder), "test")


def _hf_columns():
    return {"image": [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(3)],
            "question": ["Is it red?", "What color?", "Is it dark?"],
            "answer": ["yes", "red", "no"]}


def test_hf_load_from_disk_dict_and_single(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict(_hf_columns())
    datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "dd"))
    ds.save_to_disk(str(tmp_path / "single"))
    train = load_dataset(str(tmp_path / "dd"), "train")
    assert [r.answer_type for r in train] == ["closed", "open", "closed"]
    assert all(isinstance(r.image, Image.Image) and r.extra["image_sha256"] for r in train)
    assert open_image(train.records[1]).getpixel((0, 0)) == (60, 0, 0)
    assert len(load_dataset(str(tmp_path / "dd"), "test")) == 1
    assert load_dataset(str(tmp_path / "single")).fingerprint == train.fingerprint
    with pytest.raises(PefomedError, match="no split 'validation'; it has train, test"):
        load_dataset(str(tmp_path / "dd"), "validation")


def test_parquet_file_with_image_bytes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"image": [png_bytes(1)], "question": ["Is it?"], "answer": ["yes"]})
    pq.write_table(table, tmp_path / "one.parquet")
    split = load_dataset(str(tmp_path / "one.parquet"))
    assert len(split) == 1 and open_image(split.records[0]).size == (8, 8)
    table = pa.table({"image": [{"bytes": png_bytes(2), "path": "x/b.png"}],
                      "question": ["Is it?"], "answer": ["yes"]})
    pq.write_table(table, tmp_path / "two.parquet")
    assert load_dataset(str(tmp_path / "two.parquet")).records[0].image_id == "b.png"


def test_hub_id_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PefomedError) as err:
        load_dataset("no-such-org/no-such-dataset", "test")
    assert "not a local file or folder either" in str(err.value)
    assert "\n" not in str(err.value)


def test_registered_layout_loaded_as_folder_gets_a_hint(vqa_rad_fake):
    with pytest.raises(PefomedError, match=r"it looks like 'vqa-rad': load_dataset\('vqa-rad'"):
        load_dataset(str(vqa_rad_fake))


def test_windows_separators_and_field_config_validation(folder):
    path = write_json(folder / "win.json", [{"image": "imgs\\b.png", "question": "q?", "answer": "x"}])
    assert load_dataset(str(path)).records[0].image_id == "imgs/b.png"
    from pefomed.data.generic import Fields

    with pytest.raises(PefomedError, match=r"fields\['image'\] must be a non-empty.*fields\['id'\]"):
        Fields(image="", id=None)  # type: ignore[arg-type]
