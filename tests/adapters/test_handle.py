"""AdaptedModel beyond the contract: sizes, training hooks, reloading to train on, summaries."""
from __future__ import annotations

import torch

from pefomed.adapters import inject, load_adapted
from pefomed.adapters.native import WEIGHTS_FILE
from pefomed.adapters.persist import RECORD_FILE
from pefomed.adapters.summary import summarize, support_matrix
from pefomed.models.registry import create_model
from tests.adapters.conftest import make_batch


def test_adapter_bytes_are_the_saved_tensors_from_shapes(llava, tmp_path) -> None:
    from safetensors import safe_open

    adapted = inject(llava, "lora")
    adapted.save(tmp_path)
    with safe_open(str(tmp_path / "adapter_model.safetensors"), "pt") as f:
        saved = sum(f.get_tensor(k).numel() * f.get_tensor(k).element_size() for k in f.keys())
    assert adapted.adapter_bytes() == saved == 8192 * 4  # 8192 float32 LoRA values
    assert (tmp_path / "README.md").is_file()  # the model card: documentation, not adapter
    on_disk = sum(f.stat().st_size for f in tmp_path.iterdir() if f.name != "README.md")
    assert saved < on_disk < saved + 16_000  # headers and JSON on top


def test_native_methods_save_safetensors_and_json(tmp_path) -> None:
    inject(create_model("tiny-llava"), "frozen").save(tmp_path / "frozen")
    assert {f.name for f in (tmp_path / "frozen").iterdir()} == {RECORD_FILE, "README.md"}
    inject(create_model("tiny-llava"), "adapter").save(tmp_path / "adapter")
    assert {f.name for f in (tmp_path / "adapter").iterdir()} == {RECORD_FILE, WEIGHTS_FILE, "README.md"}


def test_reload_to_continue_training(llava, tmp_path) -> None:
    adapted = inject(llava, "lora", train_projector=True)
    adapted.save(tmp_path)
    again = load_adapted(create_model("tiny-llava"), tmp_path, trainable=True)
    assert again.trainable_by_part() == adapted.trainable_by_part()
    assert again.train_projector and again.settings == adapted.settings


def test_vision_trainable_tells_whether_features_can_be_cached() -> None:
    assert not inject(create_model("tiny-llava"), "lora", train_projector=True).vision_trainable
    assert inject(create_model("tiny-llava"), "ln", parts=("vision", "language")).vision_trainable
    assert inject(create_model("tiny-llava"), "full", parts=("vision",)).vision_trainable


def test_adalora_reallocates_ranks_through_on_step(llava) -> None:
    adapted = inject(llava, "adalora").prepare_for_training(total_steps=3)
    batch = make_batch(llava)
    params = [p for p in adapted.model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    for step in range(3):
        adapted.model(**batch).loss.backward()
        optimizer.step()
        adapted.on_step(step)
        optimizer.zero_grad()
    pattern = adapted.model.peft_config["default"].rank_pattern
    assert set(pattern) == {f"{n}.lora_E.default" for n in adapted.touched_modules()}
    # the budget shrank from init_r=12 towards target_r=8 per layer (adapters/adalora.yaml); the
    # allocator keeps every rank scoring above the k-th value, so ties may keep one or two more
    kept = sum(sum(mask) for mask in pattern.values())
    assert 8 * len(pattern) <= kept < 9 * len(pattern)


def test_summary_of_an_adapted_model(llava) -> None:
    record = summarize(inject(llava, "ia3", settings={}))
    assert record["trainable_parameters"] == 512 == record["trainable_by_part"]["language"]
    assert record["total_parameters"] == sum(p.numel() for p in create_model("tiny-llava").model.parameters()) + 512
    assert 0 < record["trainable_percent"] < 1
    assert record["adapter_bytes"] == 512 * 4 and len(record["touched_modules"]) == 8  # tensor bytes, from shapes


def test_support_matrix_matches_inject() -> None:
    blip = support_matrix(create_model("tiny-blip"))
    assert blip["lora"] == {"vision": None, "projector": blip["lora"]["projector"], "language": None}
    assert "has no projector part" in blip["lora"]["projector"]
    assert "KV cache" in blip["prefix"]["language"]
    llava = support_matrix(create_model("tiny-llava"))
    assert all(why is None for why in llava["lora"].values())
    assert "language model's attention only" in llava["prefix"]["vision"]
    assert "no normalisation layers" in llava["ln"]["projector"]
