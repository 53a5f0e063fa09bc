"""Load real checkpoints (hub id or local folder) through the same code path for every family."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import transformers

from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle


def load_pretrained(name_or_path: str, *, family: str | None = None, torch_dtype: Any = None,
                    quantization_config: Any = None, **kwargs: Any) -> ModelBundle:
    """Load model + processor; the family comes from the config unless ``family`` is given."""
    from pefomed.models.registry import _ensure_builtin_models, detect_family, get_family

    _ensure_builtin_models()
    _refuse_pickle_only(name_or_path)
    _refuse_original_llava(name_or_path)
    try:
        config = transformers.AutoConfig.from_pretrained(name_or_path)
    except OSError as exc:
        raise PefomedError(
            f"cannot load a model config from {name_or_path!r}: {str(exc).splitlines()[0]} "
            "(give a registered name, a folder with config.json, or a hub id while online)"
        ) from None
    fam = get_family(family) if family else detect_family(config)
    auto = getattr(transformers, fam.auto_class)
    load_kw: dict[str, Any] = {"use_safetensors": True}
    if torch_dtype is not None:
        load_kw["dtype"] = torch_dtype
    if quantization_config is not None:
        load_kw["quantization_config"] = quantization_config
    model = auto.from_pretrained(name_or_path, **load_kw, **kwargs)
    processor = fam.load_processor(name_or_path)
    model.eval()
    bundle = ModelBundle(name=str(name_or_path), model=model, processor=processor, family=fam,
                         source=str(name_or_path))
    _restore_export_inputs(bundle, Path(name_or_path))
    return bundle


def _restore_export_inputs(bundle: ModelBundle, folder: Path) -> None:
    """A folder written by ``pefomed export`` is asked the way its adapter was trained."""
    import json

    info_file = folder / "pefomed_export.json"
    if not info_file.is_file():
        return
    from pefomed.adapters.persist import restore_inputs

    try:
        record = json.loads(info_file.read_text(encoding="utf-8")).get("adapter") or {}
    except ValueError:
        raise PefomedError(f"{info_file} is not valid JSON; export the model again") from None
    restore_inputs(bundle, record)


def _refuse_pickle_only(name_or_path: str) -> None:
    path = Path(name_or_path)
    if not path.is_dir():
        return
    pickles = [p.name for p in path.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    safes = list(path.glob("*.safetensors"))
    if pickles and not safes:
        raise PefomedError(
            f"{path} holds only pickle weights ({', '.join(sorted(pickles))}); pefomed never unpickles: "
            "convert them to safetensors first"
        )


def _refuse_original_llava(name_or_path: str) -> None:
    """Original-format LLaVA/LLaVA-Med (llava_mistral, ...) checkpoints need converting first."""
    from pefomed.export.convert import is_original_llava

    try:
        raw, _ = transformers.PretrainedConfig.get_config_dict(name_or_path)
    except Exception:  # unreadable or unreachable: AutoConfig below reports it
        return
    if is_original_llava(raw):
        raise PefomedError(
            f"{name_or_path} is an original-format LLaVA checkpoint (model_type {raw.get('model_type')!r}, "
            f"not transformers' LLaVA); convert it first: pefomed convert llava-med {name_or_path} "
            f"{str(name_or_path).rstrip('/')}-hf [--vision-tower CLIP_DIR], then use the -hf folder"
        )
