"""The dataset registry: names, entries for `ls datasets`, options, roots, synth-rad wiring."""
from __future__ import annotations

import sys
import types

import pytest
from PIL import Image

from pefomed.data import (
    LoadContext, VQARecord, get_dataset, list_datasets, load_dataset, register_dataset,
)
from pefomed.data.registry import DATASETS
from pefomed.errors import PefomedError, UnknownNameError


def test_builtin_entries_describe_themselves():
    assert {"vqa-rad", "slake", "pathvqa", "synth-rad"} <= set(list_datasets())
    for name in list_datasets():
        entry = get_dataset(name)
        assert entry.description and entry.splits
    assert get_dataset("vqa-rad").needs_root and not get_dataset("synth-rad").needs_root
    assert get_dataset("slake").options() == ["language"]
    assert get_dataset("synth-rad").default_root() is None


def test_default_root_follows_pefomed_data(monkeypatch, tmp_path):
    monkeypatch.setenv("PEFOMED_DATA", str(tmp_path))
    assert get_dataset("vqa-rad").default_root() == tmp_path / "vqa_rad"
    with pytest.raises(PefomedError, match=f"dataset 'slake' not found at {tmp_path / 'slake'}; "
                                           "put it there, set PEFOMED_DATA"):
        load_dataset("slake", "train")


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="unknown dataset 'vqa_rad'; did you mean 'vqa-rad'"):
        load_dataset("vqa_rad")
    with pytest.raises(UnknownNameError, match="did you mean 'slake'"):
        get_dataset("slakе")  # noqa: RUF001  (a Cyrillic 'е')


def test_missing_path_is_not_a_name(tmp_path):
    with pytest.raises(PefomedError, match="no such file or folder"):
        load_dataset(str(tmp_path / "nope.jsonl"))


def test_unknown_option_suggests(slake_root):
    with pytest.raises(PefomedError, match="unknown slake option 'languag'; did you mean 'language'"):
        load_dataset("slake", "train", root=slake_root, languag="en")
    with pytest.raises(PefomedError, match="dataset 'pathvqa' takes no options, but got 'layout'"):
        load_dataset("pathvqa", "train", root=slake_root, layout="x")
    with pytest.raises(PefomedError, match="unknown option.* language for a file or folder"):
        load_dataset(str(slake_root / "train.json"), language="en")


def test_register_custom_dataset():
    @register_dataset("toy-test-only", description="two records", needs_root=False,
                      splits=("train",))
    def toy(ctx: LoadContext, *, size: int = 4) -> list[VQARecord]:
        return [VQARecord(id=f"{ctx.split}-{i}", question="Is it?", answer="no",
                          answer_type="closed", image=Image.new("L", (size, size), i))
                for i in range(6)]

    try:
        split = load_dataset("toy-test-only", limit=2, seed=0, size=2)
        assert split.dataset == "toy-test-only" and len(split) == 2
        assert split.records[0].image.size == (2, 2) and split.options == {"size": 2}
        with pytest.raises(PefomedError, match="registered twice"):
            register_dataset("toy-test-only", description="again")(toy)
    finally:
        DATASETS._entries.pop("toy-test-only", None)


def test_synth_rad_wiring(monkeypatch):
    calls = []

    def fake(split, n=None, seed=0, image_size=64):
        calls.append((split, n, seed, image_size))
        return [VQARecord(id=f"s{i}", question="Is it?", answer="yes", answer_type="closed",
                          image=Image.new("L", (image_size, image_size), i)) for i in range(n or 3)]

    monkeypatch.setitem(sys.modules, "pefomed.data.synth_rad",
                        types.SimpleNamespace(synth_rad_records=fake))
    split = load_dataset("synth-rad", "validation", limit=2, seed=5, image_size=8)
    assert calls == [("validation", 2, 5, 8)] and len(split) == 2 and split.root is None
    with pytest.raises(PefomedError, match="unknown synth-rad split 'dev2'"):
        load_dataset("synth-rad", "dev2")


def test_synth_rad_real_module_if_present():
    pytest.importorskip("pefomed.data.synth_rad", reason="synth_rad.py is written by another helper")
    a = load_dataset("synth-rad", "train", limit=5)
    assert len(a) == 5 and a.fingerprint == load_dataset("synth-rad", "train", limit=5).fingerprint
    assert {r.answer_type for r in a} <= {"closed", "open"}
