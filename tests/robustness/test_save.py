"""AdaptedModel.save never mixes two adapters in one folder: a folder holding other files is
refused; re-saving over an earlier pefomed adapter replaces it whole."""
from __future__ import annotations

import json

import pytest
import torch

from pefomed.adapters import inject, load_adapted
from pefomed.adapters.persist import RECORD_FILE
from pefomed.models.registry import create_model

from .conftest import assert_one_line, snapshot


def _adapted(method, **settings):
    torch.manual_seed(0)
    return inject(create_model("tiny-llava"), method, settings=settings)


def test_a_folder_with_foreign_files_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(Exception) as info:
        _adapted("lora", r=4).save(folder)
    assert_one_line(info.value, str(folder), "not empty")
    assert snapshot(folder) == {"notes.txt": b"mine"}


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    path = tmp_path / "out"
    path.write_text("x")
    with pytest.raises(Exception) as info:
        _adapted("lora", r=4).save(path)
    assert_one_line(info.value, str(path))
    assert path.read_text() == "x"


def test_resaving_another_method_replaces_the_whole_adapter(tmp_path):
    folder = tmp_path / "out"
    _adapted("lora", r=4).save(folder)
    _adapted("adapter").save(folder)
    assert json.loads((folder / RECORD_FILE).read_text())["method"] == "adapter"
    assert not (folder / "adapter_model.safetensors").exists()  # nothing of the LoRA left
    assert load_adapted(create_model("tiny-llava"), folder).method == "adapter"
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]  # no temporary left behind


def test_save_into_an_empty_folder_works(tmp_path):
    (tmp_path / "out").mkdir()
    _adapted("lora", r=4).save(tmp_path / "out")
    assert (tmp_path / "out" / RECORD_FILE).is_file()
