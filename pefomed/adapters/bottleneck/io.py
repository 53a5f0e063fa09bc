"""Save and load bottleneck adapters: ``bottleneck.safetensors`` + ``bottleneck.json``.

The JSON holds the format name and version, the config and the site list; the safetensors file
holds ``<site>.bottleneck.<param>`` tensors. Nothing is ever pickled or unpickled: a directory
that offers pickle files (``.bin``, ``.pt``, ``.pth``, ``.pkl``, ``.ckpt``) instead of the
safetensors file is refused, and so is a "safetensors" file that is not one.
"""
from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from pefomed.adapters.bottleneck.config import BottleneckConfig
from pefomed.adapters.bottleneck.layer import (attach_bottlenecks, attached_bottlenecks,
                                               bottleneck_state_dict, canonical_name,
                                               load_bottleneck_state_dict, remove_bottlenecks)
from pefomed.errors import PefomedError

WEIGHTS = "bottleneck.safetensors"
META = "bottleneck.json"
FORMAT = "pefomed-bottleneck"
VERSION = 1
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def save_bottlenecks(model: nn.Module, directory: str | Path, config: BottleneckConfig,
                     sites: list[str]) -> None:
    """Write the attached adapters of ``sites`` (which must be exactly the attached ones)."""
    from safetensors.torch import save_file

    attached = list(attached_bottlenecks(model))
    sites = [canonical_name(model, s) for s in sites]
    if sorted(sites) != sorted(attached):
        raise PefomedError(
            f"save_bottlenecks got {len(sites)} sites but the model has {len(attached)} attached "
            f"adapters ({len(set(sites) ^ set(attached))} differ); pass the list attach_bottlenecks() returned"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in bottleneck_state_dict(model).items()}
    save_file(tensors, str(directory / WEIGHTS), metadata={"format": FORMAT})
    meta = {"format": FORMAT, "version": VERSION, "config": config.to_dict(), "sites": sites}
    (directory / META).write_text(json.dumps(meta, indent=2) + "\n")


def load_bottlenecks(model: nn.Module, directory: str | Path, *, seed: int = 0) -> tuple[BottleneckConfig, list[str]]:
    """Attach the saved adapters to ``model`` (or reuse ones already at the same sites) and load them.

    Returns the saved config and sites. Keys and shapes are checked strictly.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    _refuse_pickle(directory)
    meta = _read_meta(directory)
    config = BottleneckConfig.from_dict(meta["config"])
    sites = list(meta["sites"])
    try:
        state = load_file(str(directory / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as err:
        raise PefomedError(f"{directory / WEIGHTS} is not a readable safetensors file ({err}); re-save it") from None
    attached = list(attached_bottlenecks(model))
    if attached and sorted(attached) != sorted(canonical_name(model, s) for s in sites):
        raise PefomedError(
            f"the model already has bottlenecks at other sites than {directory}; "
            "call remove_bottlenecks() before loading"
        )
    if not attached:
        attach_bottlenecks(model, sites, config, seed=seed)
    try:
        load_bottleneck_state_dict(model, state)
    except PefomedError:
        if not attached:  # leave the model as it came
            remove_bottlenecks(model)
        raise
    return config, sites


def _refuse_pickle(directory: Path) -> None:
    if directory.suffix in PICKLE_SUFFIXES:
        raise PefomedError(f"refusing to read pickle file {directory}; pefomed loads only safetensors + JSON")
    if not directory.is_dir():
        raise PefomedError(f"no bottleneck adapter directory at {directory}; give a folder written by save_bottlenecks()")
    if not (directory / WEIGHTS).is_file():
        pickles = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES)
        what = f"refusing pickle file(s) {', '.join(pickles)}" if pickles else "it is missing"
        raise PefomedError(f"no {WEIGHTS} in {directory} ({what}); pefomed loads only safetensors + JSON")


def _read_meta(directory: Path) -> dict:
    path = directory / META
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise PefomedError(f"no {META} in {directory}; give a folder written by save_bottlenecks()") from None
    except json.JSONDecodeError as err:
        raise PefomedError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}); re-save the adapter") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PefomedError(f"{path} is not a pefomed bottleneck file (format must be {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise PefomedError(
            f"{path} has format version {meta.get('version')!r}, this pefomed reads version {VERSION}; "
            "upgrade pefomed or re-save the adapter"
        )
    if not isinstance(meta.get("config"), dict) or not isinstance(meta.get("sites"), list):
        raise PefomedError(f"{path} lacks a 'config' object or a 'sites' list; re-save the adapter")
    return meta
