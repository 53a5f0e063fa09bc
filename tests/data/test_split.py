"""Fingerprints and seeded limits."""
from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from pefomed.data import Split, VQARecord, fingerprint, load_dataset
from pefomed.data.split import take_subset
from pefomed.errors import PefomedError

from .conftest import write_image, write_json


def _records(n: int = 10) -> list[VQARecord]:
    return [VQARecord(id=f"r{i}", question=f"q{i}?", answer="yes" if i % 2 else "no",
                      answer_type="closed", image=Image.new("L", (4, 4), i)) for i in range(n)]


def test_fingerprint_is_a_pure_function_of_content():
    a, b = _records(), _records()
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a[:1]) == fingerprint([dataclasses.replace(a[0], extra={"x": 1})])
    changed = [dataclasses.replace(b[3], answer="maybe")]
    assert fingerprint(a) != fingerprint(b[:3] + changed + b[4:])
    assert fingerprint(a) != fingerprint(a[::-1])  # order-sensitive
    other_pixels = [dataclasses.replace(a[0], image=Image.new("L", (4, 4), 99))]
    assert fingerprint(a[:1]) != fingerprint(other_pixels)


def test_fingerprint_of_files_uses_name_and_size(tmp_path):
    write_image(tmp_path / "a.png", 0)
    path = write_json(tmp_path / "ann.json", [{"image": "a.png", "question": "q?", "answer": "no"}])
    first = load_dataset(str(path)).fingerprint
    assert load_dataset(str(path)).fingerprint == first
    write_image(tmp_path / "a.png", 0, size=(64, 64))  # same name, different file
    assert load_dataset(str(path)).fingerprint != first


def test_fingerprint_is_pinned():
    """The serialisation must not drift across versions or machines."""
    record = VQARecord(id="x", question="Is it?", answer="yes", answer_type="closed",
                       image=Image.new("L", (2, 2), 0))
    assert fingerprint([record]) == (
        "74c948a74e6e17b6e8c6b6083a2410ddc5b8edc991198cbab2674c4ea67fbfe2")


def test_limit_is_seeded_nested_and_ordered():
    recs = _records(50)
    a, b = take_subset(recs, 10, seed=1), take_subset(recs, 10, seed=1)
    assert a == b and len(a) == 10
    assert take_subset(recs, 10, seed=2) != a
    assert set(r.id for r in a) <= set(r.id for r in take_subset(recs, 20, seed=1))
    assert [recs.index(r) for r in a] == sorted(recs.index(r) for r in a)
    assert take_subset(recs, 500, seed=1) == recs


def test_limit_through_load_dataset(tmp_path):
    write_image(tmp_path / "a.png")
    rows = [{"image": "a.png", "question": f"q{i}?", "answer": str(i)} for i in range(30)]
    path = str(write_json(tmp_path / "ann.json", rows))
    a = load_dataset(path, limit=5, seed=7)
    assert len(a) == 5 and a.fingerprint == load_dataset(path, limit=5, seed=7).fingerprint
    assert a.fingerprint != load_dataset(path, limit=5, seed=8).fingerprint
    for bad in (0, -1, "5", True, 2.5):
        with pytest.raises(PefomedError, match="limit must be a positive integer or None"):
            load_dataset(path, limit=bad)


def test_split_behaves_like_a_sequence():
    split = Split("toy", "test", _records(4))
    assert len(split) == 4 and [r.id for r in split] == ["r0", "r1", "r2", "r3"]
    assert split[1].id == "r1" and split.fingerprint == fingerprint(_records(4))
    assert split.summary() == {"dataset": "toy", "split": "test", "n": 4, "closed": 4, "open": 0,
                               "skipped": 0, "skipped_by_kind": {}, "skipped_reasons": [],
                               "fingerprint": split.fingerprint}
