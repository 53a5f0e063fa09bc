"""Save and load adapted models: weights as safetensors (peft's format for peft methods) + JSON.

A saved folder holds ``pefomed_adapter.json`` (method, parts, layers, settings, ...) beside the
weights, and a model card ``README.md`` (:mod:`pefomed.export.card`). For peft methods the weights are plain peft (``adapter_config.json`` +
``adapter_model.safetensors``), so ``peft.PeftModel.from_pretrained(base_model, folder)`` loads
them without pefomed (for QLoRA, onto a base quantized the same way). Nothing is ever pickled,
and folders holding pickle files are refused.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pefomed.adapters.handle import AdaptedModel, Request
from pefomed.adapters.integrity import check_loaded, check_weight_files, does_not_fit
from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle
from pefomed.models.prompts import prompt_format, template_of

RECORD_FILE = "pefomed_adapter.json"
FORMAT = 1
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def save_adapted(adapted: AdaptedModel, folder: Path) -> Path:
    """Write ``adapted`` into ``folder`` (created if needed); returns the folder.

    The adapter is written to a temporary sibling and renamed into place, so the folder never
    mixes two adapters: an earlier pefomed adapter there is replaced whole, a folder holding
    anything else is refused.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PefomedError(f"cannot save the adapter to {folder}: it is a file; give a folder path")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / RECORD_FILE).is_file():
        raise PefomedError(f"cannot save the adapter to {folder}: the folder is not empty and holds no pefomed "
                           "adapter to replace; give an empty or new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)  # mkdtemp's 0o700 would make the saved folder private
        _write_adapted(adapted, stage)
        if folder.is_dir() and any(folder.iterdir()):
            old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-"))
            os.replace(folder, old)
            os.replace(stage, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return folder


def _write_adapted(adapted: AdaptedModel, folder: Path) -> None:
    extra = adapted.entry.save(adapted, folder)
    record = {
        "format": FORMAT,
        "method": adapted.method,
        "parts": list(adapted.parts),
        "layers": adapted.layers,
        "settings": adapted.settings,
        "train_projector": adapted.train_projector,
        "model": adapted.bundle.name,
        "family": adapted.bundle.family.name,
        "base_source": adapted.bundle.source,
        "seed": adapted.bundle.meta.get("seed"),  # the build seed of a registered (random-weight) base
        "peft_backed": adapted.entry.peft_backed,
        "touched_modules": adapted.touched_modules(),
        "trainable_parameters": adapted.trainable_parameters(),
        # how inputs were built, so a reload asks the adapter the way it was trained
        "prompt_template": template_of(adapted.bundle).to_dict(),
        "prompt_format": prompt_format(adapted.bundle),
        "resolution": adapted.bundle.meta.get("resolution", {}),
        **extra,
    }
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    from pefomed.export.card import write_adapter_card

    write_adapter_card(folder)  # the run rewrites it with data and metrics (run_finetune)


def load_adapted(bundle: ModelBundle, folder: str | Path, *, trainable: bool = False) -> AdaptedModel:
    """Re-apply a saved adapter to ``bundle`` (a freshly built model of the same kind).

    ``bundle.model`` becomes the adapted model. With ``trainable=True`` the adapter's
    parameters require grad again (to continue training).
    """
    from pefomed.adapters.catalogue import get_adapter
    from pefomed.adapters.inject import MARK, check_supported, require_bundle

    require_bundle(bundle, "load_adapted")
    folder = Path(folder)
    record = read_record(folder)
    if record["family"] != bundle.family.name:
        raise PefomedError(
            f"{folder} holds a {record['method']} adapter for a {record['family']} model ({record['model']}), "
            f"but {bundle.name} is a {bundle.family.name} model; load it onto the model it was trained on"
        )
    entry = get_adapter(record["method"])
    request = Request(parts=tuple(record["parts"]), layers=record["layers"],
                      settings=entry.resolve_settings(record["settings"]),
                      train_projector=bool(record["train_projector"]))
    check_supported(bundle, entry, request)
    files = check_weight_files(folder)  # truncated, bad header, NaN: refused before touching the model
    try:
        adapted = entry.load(bundle, request, folder, record, trainable)
    except PefomedError:
        raise
    except (RuntimeError, ValueError, KeyError, IndexError) as exc:  # size mismatch, missing modules
        raise does_not_fit(folder, record, bundle, f"{type(exc).__name__}: {exc}") from None
    weights = folder / entry.weights_file if entry.weights_file else None
    if weights is not None and weights in files:
        check_loaded(entry.tensor_shapes(adapted), files[weights], weights, record, bundle)
    restore_inputs(bundle, record)
    setattr(adapted.base, MARK, entry.name)
    return adapted


def restore_inputs(bundle: ModelBundle, record: dict[str, Any]) -> None:
    """Reapply the prompt template and image resolution an adapter was saved with (older folders
    have neither: the defaults then apply, as when they were trained)."""
    from pefomed.models.prompts import PromptTemplate
    from pefomed.models.resolution import apply_resolution

    if record.get("prompt_template"):
        bundle.prompt_template = PromptTemplate.from_dict(record["prompt_template"])
    resolution = record.get("resolution") or {}
    if resolution.get("image_size") or resolution.get("max_pixels"):
        apply_resolution(bundle, image_size=resolution.get("image_size"), max_pixels=resolution.get("max_pixels"))


def read_record(folder: Path) -> dict[str, Any]:
    """The validated ``pefomed_adapter.json`` of ``folder`` (pickle files refused first)."""
    if not folder.is_dir():
        raise PefomedError(f"adapter folder {folder} does not exist; give the folder AdaptedModel.save() wrote")
    refuse_pickles(folder)
    path = folder / RECORD_FILE
    if not path.is_file():
        raise PefomedError(f"{folder} has no {RECORD_FILE}, so it was not saved by pefomed; save adapters with "
                           "AdaptedModel.save() (a plain peft folder loads with peft.PeftModel.from_pretrained)")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PefomedError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); re-save the adapter") from None
    keys = ("format", "method", "parts", "layers", "settings", "train_projector", "model", "family")
    missing = [k for k in keys if k not in record]
    if missing:
        raise PefomedError(f"{path} lacks {', '.join(missing)}; re-save the adapter with AdaptedModel.save()")
    if record["format"] != FORMAT:
        raise PefomedError(f"{path} has format {record['format']!r}, but this pefomed reads format {FORMAT}; "
                           "re-save the adapter with this version")
    return record


def refuse_pickles(folder: Path) -> None:
    """Raise if ``folder`` (or a subfolder) holds pickle files: pefomed never unpickles."""
    found = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in PICKLE_SUFFIXES)
    if found:
        raise PefomedError(
            f"{folder} holds pickle files ({', '.join(found[:3])}); pefomed never unpickles: "
            "save the weights as safetensors (AdaptedModel.save) and remove the pickles"
        )
