"""Bad input and impossible combinations: one line saying what, where and how to fix, up front."""
from __future__ import annotations

import json

import pytest

from pefomed.adapters import inject, load_adapted
from pefomed.adapters.inject import MARK
from pefomed.adapters.persist import RECORD_FILE
from pefomed.errors import PefomedError, UnknownNameError, UnsupportedError
from pefomed.models.registry import create_model


def _refused(bundle, method: str, error: type = UnsupportedError, **kwargs) -> str:
    model = bundle.model
    with pytest.raises(error) as info:
        inject(bundle, method, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert bundle.model is model and getattr(model, MARK, None) is None
    return message


def test_unknown_method_suggests_the_closest(llava) -> None:
    assert "did you mean 'lora'" in _refused(llava, "lroa", UnknownNameError)


def test_unknown_setting_and_bad_values_are_all_reported_at_once(llava) -> None:
    message = _refused(llava, "lora", PefomedError, settings={"r": 0, "lora_dropot": 0.1, "bias": "some"})
    assert "r >= 1 must hold, but got r=0" in message
    assert "unknown lora setting 'lora_dropot'; did you mean 'lora_dropout'" in message
    assert "bias in ('none', 'all', 'lora_only') must hold, but got bias='some'" in message


def test_bad_parts_and_layers_are_reported_together(llava) -> None:
    message = _refused(llava, "lora", PefomedError, parts=("langauge",), layers="attn")
    assert "unknown part 'langauge'; did you mean 'language'" in message
    assert "unknown layer kind 'attn'" in message


def test_rules_between_settings(llava) -> None:
    message = _refused(llava, "adalora", PefomedError, settings={"init_r": 4, "target_r": 8})
    assert "target_r <= init_r must hold, but got (target_r=8, init_r=4)" in message


def test_prompt_learning_acts_on_the_language_model_only(llava) -> None:
    assert "language model's attention only" in _refused(llava, "prefix", parts=("vision",))
    assert "language model's input only" in _refused(llava, "prompt", parts=("language", "projector"))


def test_methods_without_layer_choice_refuse_one(llava) -> None:
    assert "does not select layers" in _refused(llava, "prefix", layers="mlp")


def test_a_part_the_family_lacks() -> None:
    blip = create_model("tiny-blip")
    assert "has no projector part; choose parts from vision, language" in _refused(blip, "lora", parts=("projector",))
    assert "has no projector to train" in _refused(blip, "lora", train_projector=True)


def test_a_part_the_family_cannot_adapt() -> None:
    gemma = create_model("tiny-gemma3")
    assert "train_projector=True" in _refused(gemma, "lora", parts=("projector",))


def test_no_matching_modules(llava) -> None:
    assert "found no normalisation layers in the projector" in _refused(llava, "ln", parts=("projector",))
    assert "found no attention Linear layers in the projector" in _refused(llava, "lora", parts=("projector",))


def test_projector_cannot_be_adapted_and_trained_fully(llava) -> None:
    message = _refused(llava, "lora", parts=("language", "projector"), train_projector=True)
    assert "drop 'projector' from parts or drop train_projector" in message
    assert "use method 'full'" in _refused(llava, "frozen", train_projector=True)


def test_qlora_skip_modules_must_be_full_prefixes(llava) -> None:
    message = _refused(llava, "qlora", PefomedError, settings={"skip_modules": ["vision_tower"]})
    assert "did you mean 'model.vision_tower'" in message


def test_a_model_is_adapted_once(llava) -> None:
    inject(llava, "lora")
    with pytest.raises(PefomedError, match="already carries an adapter"):
        inject(llava, "ia3")


@pytest.mark.parametrize("pickle_name", ["adapter_model.bin", "weights.pt", "extra/state.pkl"])
def test_loading_refuses_pickle_files(llava, tmp_path, pickle_name: str) -> None:
    inject(llava, "lora").save(tmp_path)
    (tmp_path / pickle_name).parent.mkdir(exist_ok=True)
    (tmp_path / pickle_name).write_bytes(b"\x80\x04not really")
    with pytest.raises(PefomedError, match="pefomed never unpickles") as info:
        load_adapted(create_model("tiny-llava"), tmp_path)
    assert "\n" not in str(info.value)


def test_loading_needs_the_pefomed_record_and_the_same_family(llava, tmp_path) -> None:
    with pytest.raises(PefomedError, match="does not exist"):
        load_adapted(llava, tmp_path / "nowhere")
    with pytest.raises(PefomedError, match=f"has no {RECORD_FILE}"):
        load_adapted(llava, tmp_path)
    inject(llava, "lora").save(tmp_path)
    with pytest.raises(PefomedError, match="load it onto the model it was trained on"):
        load_adapted(create_model("tiny-smolvlm"), tmp_path)
    record = json.loads((tmp_path / RECORD_FILE).read_text())
    (tmp_path / RECORD_FILE).write_text(json.dumps({**record, "settings": {"r": -1}}))
    with pytest.raises(PefomedError, match="r >= 1 must hold"):
        load_adapted(create_model("tiny-llava"), tmp_path)


def test_merge_is_refused_for_methods_that_cannot(llava) -> None:
    adapted = inject(llava, "prompt")
    with pytest.raises(UnsupportedError, match="prompt cannot be merged: its virtual tokens are extra inputs"):
        adapted.merge()


def test_adalora_needs_a_budgeting_phase(llava) -> None:
    adapted = inject(llava, "adalora", settings={"tinit": 5, "tfinal": 5})
    with pytest.raises(PefomedError, match="on_step"):
        adapted.on_step(1)
    with pytest.raises(PefomedError, match=r"tinit < total_steps - tfinal.*total_steps=8"):
        adapted.prepare_for_training(8)
    adapted.prepare_for_training(20)
    assert adapted.model.peft_config["default"].total_step == 20
