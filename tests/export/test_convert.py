"""``pefomed convert llava-med``: an original-format checkpoint, built here, becomes transformers' LLaVA."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import save_file

from pefomed.cli import main
from pefomed.errors import PefomedError
from pefomed.export.convert import convert_llava_med
from pefomed.models.registry import create_model

WORDS = "is there a mass in the lung yes no left right what organ chest brain".split()


def _tokenizer():
    """A word-level Mistral-like tokenizer WITHOUT an <image> token (as LLaVA-Med's has none)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", "?", "\n", ":", *WORDS, "Question", "Answer"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> dict:
    """A tiny random LLaVA-Med v1.5-style checkpoint (llava_mistral, two shards) and a local CLIP tower."""
    from transformers import CLIPVisionConfig, CLIPVisionModel, MistralConfig, MistralForCausalLM

    root = tmp_path_factory.mktemp("llava-med")
    tower_dir, src = root / "clip", root / "llava-med-original"
    torch.manual_seed(0)
    tower = CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, image_size=32, patch_size=8)).eval()
    tower.save_pretrained(str(tower_dir))
    tokenizer = _tokenizer()
    text_cfg = MistralConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                             bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, sliding_window=None)
    lm = MistralForCausalLM(text_cfg).eval()
    state = {k: v.contiguous() for k, v in lm.state_dict().items()}
    projector = {"model.mm_projector.0.weight": torch.randn(64, 32) * 0.2, "model.mm_projector.0.bias": torch.randn(64) * 0.1,
                 "model.mm_projector.2.weight": torch.randn(64, 64) * 0.2, "model.mm_projector.2.bias": torch.randn(64) * 0.1}
    src.mkdir()
    keys = sorted(state)
    save_file({k: state[k] for k in keys[: len(keys) // 2]}, str(src / "model-00001-of-00002.safetensors"))
    save_file({**{k: state[k] for k in keys[len(keys) // 2:]}, **projector}, str(src / "model-00002-of-00002.safetensors"))
    config = {**text_cfg.to_dict(), "architectures": ["LlavaMistralForCausalLM"], "model_type": "llava_mistral",
              "mm_vision_tower": "openai/clip-vit-large-patch14-336", "mm_hidden_size": 32,
              "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch",
              "mm_use_im_start_end": False, "mm_use_im_patch_token": False, "image_aspect_ratio": "pad",
              "mm_patch_merge_type": "flat", "tune_mm_mlp_adapter": False, "use_mm_proj": True}
    (src / "config.json").write_text(json.dumps(config))
    tokenizer.save_pretrained(str(src))
    return {"src": src, "tower_dir": tower_dir, "tower": tower, "lm": lm, "projector": projector, "root": root}


def reference_logits(original: dict, input_ids: torch.Tensor, pixel_values: torch.Tensor, image_id: int):
    """What the original LLaVA code computes: tower layer -2 without CLS -> mlp2x_gelu -> spliced into the LM."""
    p = original["projector"]
    with torch.no_grad():
        hidden = original["tower"](pixel_values, output_hidden_states=True).hidden_states[-2][:, 1:]
        feats = torch.nn.functional.gelu(hidden @ p["model.mm_projector.0.weight"].T + p["model.mm_projector.0.bias"])
        feats = feats @ p["model.mm_projector.2.weight"].T + p["model.mm_projector.2.bias"]
        lm = original["lm"]
        safe_ids = input_ids.masked_fill(input_ids == image_id, 0)
        embeds = lm.get_input_embeddings()(safe_ids)
        embeds[input_ids == image_id] = feats.reshape(-1, feats.shape[-1])
        return lm(inputs_embeds=embeds).logits


def test_converted_checkpoint_computes_what_the_original_does(original, tmp_path):
    dst = convert_llava_med(original["src"], tmp_path / "llava-med-hf", vision_tower=original["tower_dir"])
    bundle = create_model(str(dst))
    assert bundle.family.name == "llava" and type(bundle.model).__name__ == "LlavaForConditionalGeneration"
    assert bundle.model.config.vision_feature_layer == -2
    vocab = original["lm"].config.vocab_size
    assert bundle.model.config.text_config.vocab_size == vocab + 1  # <image> added
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    inputs = bundle.family.encode(bundle, [image], ["is there a mass in the lung?"])
    image_id = bundle.model.config.image_token_id
    assert int((inputs["input_ids"] == image_id).sum()) == 16  # (32 / 8) ** 2 patches, CLS dropped
    with torch.no_grad():
        ours = bundle.model(**inputs).logits[..., :vocab]
    ref = reference_logits(original, inputs["input_ids"], inputs["pixel_values"], image_id)
    assert torch.allclose(ours, ref, atol=1e-5), (ours - ref).abs().max()
    notes = json.loads((dst / "pefomed_convert.json").read_text())["not_carried_over"]
    assert any("pad" in n for n in notes)


def test_create_model_on_the_original_says_to_convert(original):
    with pytest.raises(PefomedError, match=r"original-format LLaVA checkpoint .*'llava_mistral'.*pefomed convert "
                                           r"llava-med") as info:
        create_model(str(original["src"]))
    assert "\n" not in str(info.value)


def test_cli_convert_and_its_refusals(original, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["convert", "llava-med", str(original["src"]), str(tmp_path / "out"),
                                  "--vision-tower", str(original["tower_dir"])])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "model.safetensors.index.json").is_file()
    # offline, the tower cannot be fetched by name: one line naming --vision-tower
    result = runner.invoke(main, ["convert", "llava-med", str(original["src"]), str(tmp_path / "out2")])
    assert result.exit_code == 2 and "--vision-tower" in result.output and not (tmp_path / "out2").exists()
    # a transformers checkpoint needs no conversion
    result = runner.invoke(main, ["convert", "llava-med", str(tmp_path / "out"), str(tmp_path / "out3")])
    assert result.exit_code == 2 and "not an original-format LLaVA checkpoint" in result.output
    linear = _copy_with(original["src"], tmp_path / "linear", mm_projector_type="linear")
    result = runner.invoke(main, ["convert", "llava-med", str(linear), str(tmp_path / "out4"),
                                  "--vision-tower", str(original["tower_dir"])])
    assert result.exit_code == 2 and "mlp2x_gelu" in result.output


def _copy_with(src: Path, dst: Path, **fields) -> Path:
    import shutil

    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    (dst / "config.json").write_text(json.dumps({**config, **fields}))
    return dst


def test_a_fine_tuned_tower_inside_the_checkpoint_wins_over_the_named_one(original, tmp_path):
    src = _copy_with(original["src"], tmp_path / "with-tower")
    tuned = {f"model.vision_tower.vision_tower.vision_model.{k}": v + 1.0
             for k, v in original["tower"].state_dict().items()}
    save_file({k: v.contiguous() for k, v in tuned.items()}, str(src / "model-00003-of-00003.safetensors"))
    dst = convert_llava_med(src, tmp_path / "hf", vision_tower=original["tower_dir"])
    tower = create_model(str(dst)).model.model.vision_tower.state_dict()
    name = "embeddings.patch_embedding.weight"
    assert torch.equal(tower[name], original["tower"].state_dict()[name] + 1.0)
