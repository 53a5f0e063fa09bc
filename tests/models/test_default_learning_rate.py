"""Learning rates when the user gives none: catalogue rate x the registered model's lr_scale."""
from __future__ import annotations

import pytest

from pefomed.adapters import get_adapter
from pefomed.errors import UnknownNameError
from pefomed.models.registry import default_learning_rate


def test_small_registered_models_scale_the_catalogue_rate():
    lora = get_adapter("lora").train_defaults["learning_rate"]
    assert default_learning_rate("medvlm-tiny", "lora") == pytest.approx(10 * lora)
    assert default_learning_rate("tiny-llava", "lora") == pytest.approx(lora)


def test_folders_and_hub_ids_get_the_catalogue_rate(tmp_path):
    ia3 = get_adapter("ia3").train_defaults["learning_rate"]
    assert default_learning_rate(str(tmp_path), "ia3") == pytest.approx(ia3)
    assert default_learning_rate("org/some-vlm", "ia3") == pytest.approx(ia3)


def test_unknown_adapter_is_a_did_you_mean_error():
    with pytest.raises(UnknownNameError, match="did you mean 'lora'"):
        default_learning_rate("medvlm-tiny", "lorra")
