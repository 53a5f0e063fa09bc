"""The planner: exact parameter counts on meta models, the memory formulas, the CLI, the sweep hook."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from pefomed.adapters import inject
from pefomed.cli import main
from pefomed.models.registry import create_model
from pefomed.plan import PlanRequest, memory, plan


def _reference(name: str, method: str, targets: list[str], feedforward: list[str]) -> tuple[int, int]:
    """accelerate.init_empty_weights + peft.get_peft_model on the shipped config, no pefomed code."""
    import transformers
    from accelerate import init_empty_weights
    from peft import IA3Config, LoraConfig, get_peft_model

    from pefomed.models.meta import config_dir

    config = transformers.AutoConfig.from_pretrained(str(config_dir() / name))
    with init_empty_weights():
        model = transformers.AutoModelForImageTextToText.from_config(config)
    model.tie_weights()
    model.requires_grad_(False)
    peft_config = (IA3Config(target_modules=targets, feedforward_modules=feedforward) if method == "ia3"
                   else LoraConfig(target_modules=targets, r=8, lora_alpha=16, lora_dropout=0.05))
    return get_peft_model(model, peft_config).get_nb_trainable_parameters()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smolvlm-256m", "qwen2-vl-2b", "llava-1.5-7b"])
@pytest.mark.parametrize("method", ["lora", "qlora", "ia3"])
def test_parameter_counts_match_accelerate_and_peft_exactly(name, method) -> None:
    adapted = inject(create_model(name, weights=False), method)
    touched = adapted.touched_modules()
    feedforward = [t for t in touched if adapted.bundle.family.layer_kind(t) == "mlp"]
    trainable, total = _reference(name, method, touched, feedforward)
    assert (adapted.trainable_parameters(), adapted.total_parameters()) == (trainable, total)
    if name == "llava-1.5-7b" and method == "lora":  # the figures a plain accelerate + peft script gives
        assert (trainable, total) == (8_388_608, 7_071_815_680)


def test_meta_models_read_no_weights_and_config_only_entries_say_where_weights_are() -> None:
    bundle = create_model("llava-1.5-7b", weights=False)
    assert all(p.device.type == "meta" for p in bundle.model.parameters())
    with pytest.raises(Exception, match="config.json only.*llava-hf/llava-1.5-7b-hf"):
        create_model("llava-1.5-7b")


def test_nf4_weights_cost_about_half_a_byte_and_batches_grow_until_the_cap() -> None:
    assert memory.NF4_BYTES == pytest.approx(0.5157, abs=1e-3)
    lora = plan(PlanRequest("tiny-llava", "lora", batch_size=2, dtype="fp32", device="cpu",
                            memory_bytes=1024 ** 3))
    qlora = plan(PlanRequest("tiny-llava", "qlora", batch_size=2, dtype="fp32", device="cpu"))
    assert qlora["bytes"]["weights"] < lora["bytes"]["weights"]
    assert lora["bytes"]["activations_gc"] < lora["bytes"]["activations_no_gc"]
    assert lora["fits"] is True and lora["largest_batch"] > 2
    bigger = plan(PlanRequest("tiny-llava", "lora", batch_size=lora["largest_batch"] + 1, dtype="fp32",
                              device="cpu", memory_bytes=1024 ** 3))
    assert bigger["fits"] is False


def test_plan_cli_prints_the_table_for_a_7b_model_offline() -> None:
    result = CliRunner().invoke(main, ["plan", "llava-1.5-7b", "--adapter", "all", "--gpu", "24GB"])
    assert result.exit_code == 0, result.output
    assert "planned peak memory" in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert {"full", "lora", "qlora", "ia3"} <= set(rows)
    assert "no" in rows["full"].split("│")[-3] and "yes" in rows["qlora"].split("│")[-3]


def test_sweep_skips_a_trial_whose_plan_exceeds_the_memory_cap() -> None:
    from types import SimpleNamespace

    from pefomed.sweep.objective import plan_skip
    from pefomed.sweep.space import TrialConfig

    from pefomed.sweep.spec import TrainSpec

    def sweep(budget: dict, **inputs) -> SimpleNamespace:
        return SimpleNamespace(model="tiny-llava", budget=budget, train=inputs.pop("train", TrainSpec()),
                               image_size=inputs.get("image_size"), max_pixels=inputs.get("max_pixels"))

    spec = sweep({"max_memory_mb": 1})
    skipped = plan_skip(TrialConfig(method="lora", label="lora"), spec)
    assert skipped.status == "failed" and skipped.reason.startswith("skipped: planned ")
    assert skipped.cost == {"device_seconds": 0.0} and skipped.train["skipped_by_plan"]
    assert plan_skip(TrialConfig(method="frozen", label="frozen"), spec) is None  # nothing trains
    assert plan_skip(TrialConfig(method="lora", label="lora"), sweep({})) is None


def test_the_sweeps_plan_check_sizes_the_trials_inputs_precision_and_checkpointing() -> None:
    """The skip decision plans what the trial will run: the sweep's image_size / max_pixels, its
    train dtype and gradient checkpointing (Qwen2-VL-2B LoRA, batch 4, on a CUDA device)."""
    from types import SimpleNamespace

    from pefomed.sweep.objective import plan_skip
    from pefomed.sweep.space import TrialConfig
    from pefomed.sweep.spec import TrainSpec

    def planned_mb(cap_mb: float = 1, **inputs) -> float | None:
        options = {"device": "cuda", "dtype": "bf16", **inputs.pop("options", {})}
        spec = SimpleNamespace(model="qwen2-vl-2b", budget={"max_memory_mb": cap_mb},
                               train=TrainSpec(options=options), **{"image_size": None, "max_pixels": None, **inputs})
        skipped = plan_skip(TrialConfig(method="lora", label="lora", batch_size=4), spec)
        return None if skipped is None else skipped.train["planned_peak_mb"]

    native = planned_mb()  # 448x448: 1,024 vision tokens
    large = planned_mb(max_pixels=1344 * 1344)
    assert large == planned_mb(image_size=1344) > 4 * native  # the same square image at the cap
    assert planned_mb(max_pixels=1344 * 1344, options={"gradient_checkpointing": True}) < large
    assert planned_mb(options={"dtype": "fp32"}) > 1.5 * native
    assert planned_mb(cap_mb=14 * 1024) is None  # fits in bf16 ...
    assert planned_mb(cap_mb=14 * 1024, options={"dtype": "fp32"}) is not None  # ... not in fp32


def test_plan_max_pixels_plans_qwen_images_at_the_cap() -> None:
    small = plan(PlanRequest("qwen2-vl-2b", "lora", max_pixels=448 * 448))
    large = plan(PlanRequest("qwen2-vl-2b", "lora", max_pixels=896 * 896))
    assert small["tokens"]["vision_per_example"] == (448 // 14) ** 2
    assert large["tokens"]["vision_per_example"] == 4 * small["tokens"]["vision_per_example"]
    assert large["tokens"]["lm_per_example"] - 48 == (896 // 28) ** 2  # 2x2 patches merge into one LM token
    assert large["peak_bytes"] > small["peak_bytes"]
    result = CliRunner().invoke(main, ["plan", "qwen2-vl-2b", "--adapter", "lora", "--max-pixels", str(896 * 896),
                                       "--json"])
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.output)["plans"][0]["peak_bytes"] == large["peak_bytes"]
    with pytest.raises(Exception, match="give image_size or max_pixels, not both"):
        PlanRequest("qwen2-vl-2b", "lora", image_size=448, max_pixels=448 * 448)


def test_inspect_a_folder_holding_only_config_json(tmp_path) -> None:
    import json
    import shutil

    from pefomed.models.meta import config_dir

    shutil.copy(config_dir() / "qwen2-vl-2b" / "config.json", tmp_path / "config.json")
    result = CliRunner().invoke(main, ["inspect", str(tmp_path), "--adapter", "qlora", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["trainable_parameters"] > 0 and record["adapter_bytes"] == record["trainable_parameters"] * 4
