"""The Python API refuses wrong types and empty inputs with a PefomedError, not an
AttributeError deep inside or a silent None."""
from __future__ import annotations

import pytest

import pefomed
from pefomed.models.registry import create_model
from pefomed.train import Budget, TrainConfig
from pefomed.train.loop import train

from .conftest import assert_one_line


@pytest.mark.parametrize("name", [None, 3, b"tiny-llava", ["tiny-llava"]])
def test_create_model_wants_a_name_or_path(name):
    with pytest.raises(Exception) as info:
        create_model(name)
    assert_one_line(info.value, "create_model", "tiny-llava")


@pytest.mark.parametrize("family, words", [("lava", ["lava", "llava"]), ("blip", ["blip", "tiny-llava"]),
                                           (3, ["family"])])
def test_create_model_refuses_an_unknown_or_contradicting_family(family, words):
    with pytest.raises(Exception) as info:
        create_model("tiny-llava", family=family)
    assert_one_line(info.value, *words)


def test_create_model_with_its_own_family_still_works():
    assert create_model("tiny-llava", family="llava").family.name == "llava"


@pytest.mark.parametrize("bundle", ["tiny-llava", None, 7])
def test_inject_wants_a_bundle(bundle):
    with pytest.raises(Exception) as info:
        pefomed.inject(bundle, "lora")
    assert_one_line(info.value, "inject", "create_model")


def test_inject_wants_a_method_name():
    with pytest.raises(Exception) as info:
        pefomed.inject(create_model("tiny-llava"), None)
    assert_one_line(info.value, "adapter")


def test_load_adapted_wants_a_bundle(tmp_path):
    with pytest.raises(Exception) as info:
        pefomed.load_adapted("tiny-llava", tmp_path)
    assert_one_line(info.value, "load_adapted", "create_model")


@pytest.mark.parametrize("which", ["adapted", "records", "record_items", "config", "budget"])
def test_train_wants_the_right_types(tiny_adapted, records, which):
    args = {"adapted": tiny_adapted, "records": records, "config": TrainConfig(device="cpu"),
            "budget": Budget(max_steps=1)}
    bad = {"adapted": "tiny-llava", "records": "abc", "record_items": ["q1", "q2"],
           "config": {"lr": 1e-3}, "budget": 3}[which]
    args["records" if which == "record_items" else which] = bad
    with pytest.raises(Exception) as info:
        train(args["adapted"], args["records"], args["config"], args["budget"], progress=False)
    assert_one_line(info.value, "train")


def test_evaluate_refuses_no_records(tiny_adapted, tmp_path):
    with pytest.raises(Exception) as info:
        pefomed.evaluate(tiny_adapted, [], out_dir=tmp_path / "ev")
    assert_one_line(info.value, "evaluate", "0 records")
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("records", ["abc", ["q1"], None])
def test_evaluate_wants_records(tiny_adapted, records):
    with pytest.raises(Exception) as info:
        pefomed.evaluate(tiny_adapted, records)
    assert_one_line(info.value, "evaluate")
