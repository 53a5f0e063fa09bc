"""Original-format LLaVA / LLaVA-Med checkpoints -> the transformers LLaVA format.

The original LLaVA code base (and LLaVA-Med, which builds on it) saves ``LlavaLlamaForCausalLM``
/ ``LlavaMistralForCausalLM`` (``model_type`` ``llava``, ``llava_llama``, ``llava_mistral``):
the language model's own keys, the projector as ``model.mm_projector.{0,2}`` and the CLIP tower
only *by name* (``mm_vision_tower``), unless it was fine-tuned (then under
``model.vision_tower.vision_tower.``). The key mapping follows transformers'
``convert_llava_weights_to_hf.py``, written out in today's layout::

    model.embed_tokens/layers/norm.*              -> model.language_model.*
    lm_head.*                                     -> lm_head.*
    model.mm_projector.0/2.*                      -> model.multi_modal_projector.linear_1/linear_2.*
    model.vision_tower.vision_tower.vision_model.*  (or the tower's vision_model.*) -> model.vision_tower.*

An ``<image>`` token is added to the tokenizer (and one embedding row, the mean of the others) if
it has none. Weights are streamed shard by shard, so memory stays at about one shard.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.export.staging import staged_folder

#: original model types -> the transformers text model type
TEXT_TYPES = {"llava_mistral": "mistral", "llava_llama": "llama", "llava": "llama"}
ORIGINAL_ARCHITECTURES = ("LlavaLlamaForCausalLM", "LlavaMistralForCausalLM", "LlavaMptForCausalLM")
IMAGE_TOKEN = "<image>"
#: original config fields that describe the vision side or training, not the text model
_NOT_TEXT = ("architectures", "model_type", "image_aspect_ratio", "image_grid_pinpoints", "tokenizer_padding_side",
             "tokenizer_model_max_length", "tune_mm_mlp_adapter", "freeze_mm_mlp_adapter", "use_mm_proj",
             "unfreeze_mm_vision_tower", "transformers_version", "_name_or_path", "torch_dtype", "dtype")
_PROJECTOR = {"model.mm_projector.0.": "model.multi_modal_projector.linear_1.",
              "model.mm_projector.2.": "model.multi_modal_projector.linear_2."}
_TOWER_IN_CHECKPOINT = "model.vision_tower.vision_tower.vision_model."
#: first name components of a CLIP vision transformer's weights
_TOWER_ROOTS = ("embeddings", "pre_layrnorm", "encoder", "post_layernorm")


def is_original_llava(config: dict[str, Any]) -> bool:
    """True for a config.json of the original LLaVA code base (not transformers' LLaVA)."""
    if config.get("model_type") in ("llava_mistral", "llava_llama", "llava_mpt"):
        return True
    archs = config.get("architectures") or []
    return any(a in ORIGINAL_ARCHITECTURES for a in archs) or (
        config.get("model_type") == "llava" and "mm_vision_tower" in config and "text_config" not in config)


def convert_llava_med(src: str | Path, dst: str | Path, *, vision_tower: str | Path | None = None) -> Path:
    """Write ``src`` (an original-format LLaVA/LLaVA-Med folder) to ``dst`` in the transformers
    LLaVA format; returns ``dst``. ``vision_tower`` is a local CLIP folder (or hub id) used instead
    of the checkpoint's ``mm_vision_tower`` name, for offline machines."""
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    config = _read_source_config(src)
    _check_supported(src, config)
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise PefomedError(f"output folder {dst} already exists and is not empty; give a new DST or remove it")
    shards = sorted(src.glob("*.safetensors"))
    if not shards:
        pickles = sorted(p.name for p in src.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        raise PefomedError(f"{src} has no .safetensors weights{' (only ' + ', '.join(pickles[:3]) + ')' if pickles else ''}; "
                           "pefomed never unpickles: convert the weights to safetensors first")
    tower_name = str(vision_tower) if vision_tower is not None else config.get("mm_vision_tower")
    if not tower_name:
        raise PefomedError(f"{src}/config.json names no mm_vision_tower; give the CLIP tower with --vision-tower DIR")
    tower_dir = _tower_folder(tower_name, given=vision_tower is not None)
    vision_config = _vision_config(tower_dir)
    tokenizer = _tokenizer(src)
    with staged_folder(dst) as stage:
        image_token_id, vocab = _add_image_token(tokenizer)
        text_config = _text_config(config, vocab)
        llava = _llava_config(config, vision_config, text_config, image_token_id, tokenizer)
        index = _write_weights(shards, tower_dir, stage, vocab, config)
        llava.save_pretrained(str(stage))
        (stage / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
        _processor(tower_dir, vision_config, tokenizer, llava).save_pretrained(str(stage))
        _generation_config(src, tokenizer).save_pretrained(str(stage))
        (stage / "pefomed_convert.json").write_text(json.dumps(
            {"source": str(src.resolve()), "source_model_type": config.get("model_type"),
             "vision_tower": tower_name, "image_token_added": vocab > int(config["vocab_size"]),
             "not_carried_over": _not_carried(config)}, indent=2) + "\n")
    return dst


def _read_source_config(src: Path) -> dict[str, Any]:
    path = src / "config.json"
    if not path.is_file():
        raise PefomedError(f"{src} has no config.json; give the folder of an original-format LLaVA/LLaVA-Med checkpoint")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PefomedError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _check_supported(src: Path, config: dict[str, Any]) -> None:
    if not is_original_llava(config):
        raise PefomedError(f"{src} is not an original-format LLaVA checkpoint (model_type "
                           f"{config.get('model_type')!r}); if it is a transformers model, load it as is")
    model_type = config.get("model_type")
    if model_type not in TEXT_TYPES:
        raise PefomedError(f"{src}: model_type {model_type!r} has no transformers LLaVA equivalent; "
                           f"convertible: {', '.join(TEXT_TYPES)}")
    projector = config.get("mm_projector_type", "linear")
    if projector != "mlp2x_gelu":
        raise PefomedError(f"{src}: mm_projector_type {projector!r} cannot be converted: transformers' LLaVA "
                           "has a two-layer GELU projector only (mlp2x_gelu)")
    if config.get("mm_use_im_start_end"):
        raise PefomedError(f"{src} wraps images in <im_start>/<im_end> tokens (mm_use_im_start_end), which "
                           "transformers' LLaVA does not do; use a LLaVA-1.5-style checkpoint (LLaVA-Med v1.5)")


def _tower_folder(name: str, *, given: bool) -> Path:
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors"]))
    except Exception as exc:  # offline, unknown id, ...
        how = "give a local CLIP folder" if given else "download it elsewhere and give it with --vision-tower DIR"
        raise PefomedError(f"cannot fetch the vision tower {name!r} (offline, or not a hub id: "
                           f"{type(exc).__name__}); {how}") from None


def _vision_config(tower: Path) -> Any:
    from transformers import CLIPVisionConfig

    path = tower / "config.json"
    if not path.is_file():
        raise PefomedError(f"vision tower folder {tower} has no config.json; give a CLIP (vision) model folder")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("model_type") == "clip":
        data = data.get("vision_config") or {}
    elif data.get("model_type") != "clip_vision_model":
        raise PefomedError(f"vision tower {tower} is a {data.get('model_type')!r} model; LLaVA-Med uses a CLIP tower")
    data = {k: v for k, v in data.items() if k not in ("model_type", "architectures", "transformers_version")}
    return CLIPVisionConfig(**data)


def _tokenizer(src: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(src))
    except Exception as exc:
        raise PefomedError(f"cannot load the tokenizer of {src} ({type(exc).__name__}); the checkpoint folder "
                           "must hold its tokenizer files") from None


def _add_image_token(tokenizer: Any) -> tuple[int, int]:
    """(the id of ``<image>``, the vocabulary size the embeddings must have)."""
    from transformers import AddedToken

    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)], special_tokens=True)
    if tokenizer.pad_token is None:  # LLaVA-Med's Mistral tokenizer has none; batching needs one
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer.convert_tokens_to_ids(IMAGE_TOKEN), len(tokenizer)


def _text_config(config: dict[str, Any], vocab: int) -> Any:
    from transformers import AutoConfig

    fields = {k: v for k, v in config.items() if not k.startswith("mm_") and k not in _NOT_TEXT}
    fields["vocab_size"] = max(vocab, int(config["vocab_size"]))
    return AutoConfig.for_model(TEXT_TYPES[config["model_type"]], **fields)


def _llava_config(config: dict[str, Any], vision: Any, text: Any, image_token_id: int, tokenizer: Any) -> Any:
    from transformers import LlavaConfig

    strategy = "default" if config.get("mm_vision_select_feature", "patch") == "patch" else "full"
    patches = (vision.image_size // vision.patch_size) ** 2
    llava = LlavaConfig(vision_config=vision, text_config=text, image_token_id=image_token_id,
                        projector_hidden_act="gelu", vision_feature_select_strategy=strategy,
                        vision_feature_layer=int(config.get("mm_vision_select_layer", -2)),
                        image_seq_length=patches, tie_word_embeddings=bool(config.get("tie_word_embeddings", False)))
    llava.pad_token_id = tokenizer.pad_token_id
    llava.architectures = ["LlavaForConditionalGeneration"]
    return llava


def _map_key(key: str) -> str | None:
    if key.startswith(_TOWER_IN_CHECKPOINT):
        return "model.vision_tower." + key[len(_TOWER_IN_CHECKPOINT):]
    for old, new in _PROJECTOR.items():
        if key.startswith(old):
            return new + key[len(old):]
    if key.startswith("model.vision_tower.") or key.startswith("model.mm_projector."):
        return None  # an unknown projector/tower layout: refused by the caller
    if key.startswith("model."):
        return "model.language_model." + key[len("model."):]
    if key.startswith("lm_head."):
        return key
    return None


def _write_weights(shards: list[Path], tower: Path, out: Path, vocab: int, config: dict[str, Any]) -> dict[str, Any]:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    weight_map: dict[str, str] = {}
    total = 0
    tower_in_checkpoint = False
    found_projector = False
    for i, shard in enumerate(shards):
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(shard), framework="pt") as f:
            for key in f.keys():
                new = _map_key(key)
                if new is None:
                    raise PefomedError(f"{shard.name}: weight {key!r} has no place in transformers' LLaVA; "
                                       "this checkpoint layout is not supported")
                tensor = f.get_tensor(key)
                if new in ("model.language_model.embed_tokens.weight", "lm_head.weight") and tensor.shape[0] < vocab:
                    extra = tensor.float().mean(0, keepdim=True).expand(vocab - tensor.shape[0], -1)
                    tensor = torch.cat([tensor, extra.to(tensor.dtype)])
                tower_in_checkpoint |= new.startswith("model.vision_tower.")
                found_projector |= new.startswith("model.multi_modal_projector.")
                tensors[new] = tensor.contiguous()
        name = f"model-{i + 1:05d}-of-{len(shards) + 1:05d}.safetensors"
        save_file(tensors, str(out / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
        total += sum(t.numel() * t.element_size() for t in tensors.values())
    if not found_projector:
        raise PefomedError(f"no model.mm_projector.* weights in {shards[0].parent}; this is not a LLaVA "
                           "checkpoint with a trained projector (the projector may be a separate mm_projector file)")
    if not tower_in_checkpoint:
        tensors = _tower_tensors(tower)
        name = f"model-{len(shards) + 1:05d}-of-{len(shards) + 1:05d}.safetensors"
        save_file(tensors, str(out / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
        total += sum(t.numel() * t.element_size() for t in tensors.values())
    return {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}


def _tower_tensors(tower: Path) -> dict[str, Any]:
    from safetensors import safe_open

    files = sorted(tower.glob("*.safetensors"))
    if not files:
        raise PefomedError(f"vision tower folder {tower} has no .safetensors weights; give a CLIP folder saved "
                           "as safetensors")
    out = {}
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                # a full CLIPModel (hub) prefixes vision_model.; transformers 5's CLIPVisionModel saves bare names
                name = key[len("vision_model."):] if key.startswith("vision_model.") else key
                if name.split(".")[0] in _TOWER_ROOTS:
                    out["model.vision_tower." + name] = f.get_tensor(key).contiguous()
    if not out:
        raise PefomedError(f"vision tower folder {tower} has no CLIP vision weights; give a CLIP model folder")
    return out


def _processor(tower: Path, vision: Any, tokenizer: Any, llava: Any) -> Any:
    from transformers import CLIPImageProcessor, LlavaProcessor

    if (tower / "preprocessor_config.json").is_file():
        image_processor = CLIPImageProcessor.from_pretrained(str(tower))
    else:
        image_processor = CLIPImageProcessor(size={"shortest_edge": vision.image_size},
                                             crop_size={"height": vision.image_size, "width": vision.image_size})
    return LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=vision.patch_size,
                          vision_feature_select_strategy=llava.vision_feature_select_strategy,
                          num_additional_image_tokens=1)


def _generation_config(src: Path, tokenizer: Any) -> Any:
    from transformers import GenerationConfig

    if (src / "generation_config.json").is_file():
        config = GenerationConfig.from_pretrained(str(src))
    else:
        config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config.pad_token_id = tokenizer.pad_token_id
    return config


def _not_carried(config: dict[str, Any]) -> list[str]:
    """Original behaviours transformers' LLaVA does not reproduce (said in pefomed_convert.json)."""
    notes = []
    if config.get("image_aspect_ratio") == "pad":
        notes.append("image_aspect_ratio=pad: the original pads images to a square before resizing; the "
                     "transformers processor resizes and center-crops")
    return notes
