"""A symlink inside a dataset root that points outside it is refused (resolved, then checked);
links that stay inside the root still work."""
from __future__ import annotations

import json
import os

import pytest

from pefomed.data import load_dataset

from .conftest import assert_one_line, assert_refused, cli, write_dataset


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "outside"
    write_dataset(secret, {"secret.png": None})
    return secret / "secret.png"


def _with_link(root, target, name="imgs/link.png"):
    data = write_dataset(root, {"imgs/ok.png": None})
    link = root / name
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    rows = json.loads(data.read_text()) + [{"image": name, "question": "is it?", "answer": "yes"}]
    data.write_text(json.dumps(rows))
    return data


def test_a_file_symlink_out_of_the_root_is_refused(tmp_path, outside):
    data = _with_link(tmp_path / "ds", outside)
    with pytest.raises(Exception) as info:
        load_dataset(str(data))
    assert_one_line(info.value, "imgs/link.png", "escapes", "dataset root")


def test_a_folder_symlink_out_of_the_root_is_refused(tmp_path, outside):
    data = _with_link(tmp_path / "ds", outside.parent, name="linked")
    rows = json.loads(data.read_text())
    rows[-1]["image"] = "linked/secret.png"
    data.write_text(json.dumps(rows))
    with pytest.raises(Exception) as info:
        load_dataset(str(data))
    assert_one_line(info.value, "linked/secret.png", "escapes")


def test_skip_policy_counts_the_escaping_link(tmp_path, outside):
    data = _with_link(tmp_path / "ds", outside)
    split = load_dataset(str(data), on_bad_record="skip")
    assert split.skipped == 1 and len(split) == 4


def test_a_symlink_inside_the_root_still_works(tmp_path):
    root = tmp_path / "ds"
    data = _with_link(root, root / "imgs" / "ok.png")
    assert len(load_dataset(str(data))) == 5


def test_cli_eval_refuses_the_escaping_link(tmp_path, outside):
    data = _with_link(tmp_path / "ds", outside)
    result = cli("eval", "--model", "tiny-llava", "--dataset", data, "--split", "train")
    assert_refused(result, "escapes")
