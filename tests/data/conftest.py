"""Fixture datasets in their published layouts, built in tmp dirs (images are generated, tiny).

The annotation JSON of SLAKE and PathVQA lives in ``tests/data/fixtures/`` (checked in, so the
expected format is readable); images are drawn here so no binaries are committed.
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures"


def write_image(path: Path, shade: int = 0, size: tuple[int, int] = (8, 8)) -> Path:
    """A small RGB JPEG/PNG (by suffix) at ``path``; ``shade`` makes images differ."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (shade % 256, 64, 255 - shade % 256)).save(path)
    return path


def png_bytes(shade: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 10, 20)).save(buf, format="PNG")
    return buf.getvalue()


def write_json(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def slake_root(tmp_path) -> Path:
    """SLAKE 1.0 release layout: ``Slake1.0/{train,validate,test}.json`` + ``imgs/xmlabN/``."""
    root = tmp_path / "Slake1.0"
    shutil.copytree(FIXTURES / "slake", root)
    names = {r["img_name"] for f in root.glob("*.json") for r in json.loads(f.read_text("utf-8"))}
    for i, name in enumerate(sorted(names)):
        write_image(root / "imgs" / name, shade=40 * i)
        (root / "imgs" / Path(name).parent / "detection.json").write_text("[]")  # ignored
    return root


@pytest.fixture
def pathvqa_original(tmp_path) -> Path:
    """PathVQA original layout with the QA converted to JSON: ``qas/<s>/<s>_qa.json``."""
    root = tmp_path / "pathvqa"
    for split in ("train", "val", "test"):
        rows = json.loads((FIXTURES / "pathvqa" / f"{split}_qa.json").read_text())
        (root / "qas" / split).mkdir(parents=True)
        shutil.copy(FIXTURES / "pathvqa" / f"{split}_qa.json", root / "qas" / split)
        for i, name in enumerate(sorted({r["image"] for r in rows})):
            write_image(root / "images" / split / f"{name}.jpg", shade=30 * i)
    return root


def hf_rows(split: str) -> dict[str, list]:
    """Columns of the Hugging Face ``flaviagiammarino/path-vqa`` layout for ``split``."""
    qa = {"train": "train", "validation": "val", "test": "test"}[split]
    rows = json.loads((FIXTURES / "pathvqa" / f"{qa}_qa.json").read_text())
    shades = {name: 50 * i for i, name in enumerate(sorted({r["image"] for r in rows}))}
    return {
        "image": [{"bytes": png_bytes(shades[r["image"]]), "path": None} for r in rows],
        "question": [r["question"] for r in rows],
        "answer": [r["answer"] for r in rows],
    }


@pytest.fixture
def pathvqa_parquet(tmp_path) -> Path:
    """The hub repo layout: ``data/<split>-0000N-of-0000M.parquet`` (train in two shards)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "path-vqa"
    (root / "data").mkdir(parents=True)
    for split in ("train", "validation", "test"):
        table = pa.table(hf_rows(split))
        if split == "train":
            pq.write_table(table.slice(0, 2), root / "data" / "train-00000-of-00002.parquet")
            pq.write_table(table.slice(2), root / "data" / "train-00001-of-00002.parquet")
        else:
            pq.write_table(table, root / "data" / f"{split}-00000-of-00001.parquet")
    return root


@pytest.fixture
def pathvqa_saved(tmp_path) -> Path:
    """``DatasetDict.save_to_disk`` of the Hugging Face dataset (Image feature, PIL on read)."""
    import datasets

    features = datasets.Features({"image": datasets.Image(), "question": datasets.Value("string"),
                                  "answer": datasets.Value("string")})
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict(hf_rows(s), features=features)
                               for s in ("train", "validation", "test")})
    root = tmp_path / "path-vqa-saved"
    dd.save_to_disk(str(root))
    return root


@pytest.fixture
def vqa_rad_fake(tmp_path) -> Path:
    """A three-record VQA-RAD split layout with the real quirks (for bad-data tests)."""
    root = tmp_path / "vqa_rad"
    write_image(root / "images" / "synpic1.jpg")
    rows = [
        {"qid": 1, "image_name": "synpic1.jpg", "image_organ": "CHEST", "answer": "yes",
         "answer_type": "CLOSED ", "question_type": "PRES, POS", "question": "Is there a mass?",
         "phrase_type": "freeform"},
        {"qid": 2, "image_name": "synpic1.jpg", "image_organ": "CHEST", "answer": 4,
         "answer_type": "OPEN", "question_type": "COUNT", "question": "How many ribs are broken?",
         "phrase_type": "freeform"},
        {"qid": 3, "image_name": "synpic1.jpg", "image_organ": "CHEST", "answer": " left ",
         "answer_type": "OPEN", "question_type": "ATRIB", "question": "Which side?",
         "phrase_type": "para"},
    ]
    write_json(root / "trainset.json", rows)
    write_json(root / "testset.json", rows[:1])
    return root
