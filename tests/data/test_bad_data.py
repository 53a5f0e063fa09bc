"""Every kind of bad data gives one line naming the file, the record and the fix; skip mode counts."""
from __future__ import annotations

import json

import pytest

from pefomed.data import load_dataset, open_image
from pefomed.errors import PefomedError

from .conftest import write_image, write_json

GOOD = {"image": "ok.png", "question": "Is it normal?", "answer": "yes", "id": "good"}


@pytest.fixture
def folder(tmp_path):
    write_image(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"this is not a PNG")
    return tmp_path


def _error(path, **kw) -> str:
    with pytest.raises(PefomedError) as err:
        load_dataset(str(path), **kw)
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


BAD_RECORDS = [
    ({"image": "missing.png"}, ["image 'missing.png' not found", "restore the file"]),
    ({"image": "../../etc/passwd"}, ["escapes the dataset root", "pass root="]),
    ({"image": "/etc/passwd"}, ["image path '/etc/passwd' escapes the dataset root"]),
    ({"question": "   "}, ["empty question"]),
    ({"answer": ""}, ["empty answer"]),
    ({"answer_type": "maybe"}, ["answer_type must be one of closed, open", "got 'maybe'"]),
    ({"question": None}, ["missing field(s) question", "fields={"]),
    ({"id": "good"}, ["duplicate id 'good' (first seen at", "make ids unique"]),
]


@pytest.mark.parametrize(("change", "expected"), BAD_RECORDS)
def test_bad_record_message(folder, change, expected):
    bad = {**GOOD, "id": "bad", **change}
    path = write_json(folder / "ann.json", [GOOD, bad])
    msg = _error(path)
    assert msg.startswith(f"{path}: record 1 (id '{bad['id']}'): "), msg
    assert "on_bad_record='skip'" in msg
    for part in expected:
        assert part in msg, msg


def test_skip_mode_counts_and_keeps_reasons(folder):
    rows = [GOOD] + [{**GOOD, "id": f"bad{i}", **change} for i, (change, _) in
                     enumerate(BAD_RECORDS) if change.get("id") != "good"]
    rows.append({**GOOD, "id": "good"})  # duplicate of the first
    rows.append({**GOOD, "id": "fine", "answer": "no"})
    split = load_dataset(str(write_json(folder / "ann.json", rows)), on_bad_record="skip")
    assert [r.id for r in split] == ["good", "fine"]
    assert split.skipped == len(rows) - 2 == len(split.skipped_reasons)
    assert any("duplicate id 'good'" in reason for reason in split.skipped_reasons)
    assert all("on_bad_record" not in reason for reason in split.skipped_reasons)


def test_unreadable_image(folder):
    path = write_json(folder / "ann.json", [{**GOOD, "image": "broken.png"}])
    msg = _error(path, validate_images=True)
    assert "record 0 (id 'good'): image" in msg and "broken.png is unreadable" in msg
    lazy = load_dataset(str(path))  # existence only: loads, and the failure is clear later
    with pytest.raises(PefomedError, match=r"record 'good': image .*broken.png is unreadable"):
        open_image(lazy.records[0])
    skipped = load_dataset(str(path), validate_images=True, on_bad_record="skip")
    assert len(skipped) == 0 and skipped.skipped == 1


def test_image_deleted_after_loading(folder):
    write_image(folder / "gone.png")
    split = load_dataset(str(write_json(folder / "ann.json", [{**GOOD, "image": "gone.png"}])))
    (folder / "gone.png").unlink()
    with pytest.raises(PefomedError, match=r"record 'good': image .*gone.png no longer exists"):
        open_image(split.records[0])


def test_malformed_json_has_line_and_column(folder):
    path = folder / "ann.json"
    path.write_text('[\n  {"image": "ok.png",\n   "question": "x" "answer": "y"}\n]')
    msg = _error(path)
    assert msg.startswith(f"{path}: malformed JSON at line 3, column 20: Expecting ','")


def test_json_top_level_must_be_a_list(folder):
    msg = _error(write_json(folder / "ann.json", {"data": [GOOD]}))
    assert "top level must be a JSON list of objects, but got dict" in msg


def test_jsonl_bad_lines(folder):
    path = folder / "ann.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n[1, 2]\n")
    msg = _error(path)
    assert msg.startswith(f"{path}: line 2: malformed JSON at column 2")
    split = load_dataset(str(path), on_bad_record="skip")
    assert len(split) == 1 and split.skipped == 2
    assert "line 3: must be a JSON object, but got list" in split.skipped_reasons[1]


def test_csv_row_with_extra_cells(folder):
    path = folder / "ann.csv"
    path.write_text("image,question,answer\nok.png,Is it, really?,yes\nok.png,Fine?,no\n")
    assert "line 2: has 4 cells but the header has 3" in _error(path)
    assert len(load_dataset(str(path), on_bad_record="skip")) == 1


def test_named_dataset_record_is_named(vqa_rad_fake):
    rows = json.loads((vqa_rad_fake / "trainset.json").read_text())
    rows[1]["image_name"] = "synpic404.jpg"
    write_json(vqa_rad_fake / "trainset.json", rows)
    with pytest.raises(PefomedError) as err:  # named public datasets skip by default; ask for strict
        load_dataset("vqa-rad", "train", root=vqa_rad_fake, on_bad_record="error")
    assert str(err.value).startswith(f"{vqa_rad_fake / 'trainset.json'}: record 1 (id 'train-2'): "
                                     "image 'synpic404.jpg' not found")
    split = load_dataset("vqa-rad", "train", root=vqa_rad_fake, on_bad_record="skip")
    assert [r.id for r in split] == ["train-1", "train-3"] and split.skipped == 1


def test_not_utf8_and_bad_policy(folder):
    path = folder / "ann.json"
    path.write_bytes(b'[{"question": "\xff"}]')
    assert "not UTF-8 text" in _error(path)
    with pytest.raises(PefomedError, match="on_bad_record must be one of error, skip, but got 'drop'"):
        load_dataset(str(write_json(path, [GOOD])), on_bad_record="drop")
