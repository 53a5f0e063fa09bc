"""Checkpoints of a training run, written atomically under ``RUN/checkpoints/step-N/``.

Each holds ``adapter/`` (what ``pefomed eval --adapter-dir`` loads), ``trainer_state.json`` (step,
losses, evaluations: readable) and ``training_state.pt`` (trainable weights, optimizer, scheduler,
AdaLoRA allocator, RNG states and the data position: what ``--resume`` needs to continue exactly).
A checkpoint is built in a temporary sibling and renamed into place, so a folder named
``step-N`` is always complete. The last ``keep_last`` and the best are kept.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from pefomed.errors import PefomedError

CHECKPOINTS_DIR = "checkpoints"
STATE_FILE = "training_state.pt"
TRAINER_FILE = "trainer_state.json"
BEST_FILE = "best.json"
_STEP = re.compile(r"step-(\d+)")


def checkpoint_dirs(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP.fullmatch(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def step_of(path: Path) -> int:
    return int(_STEP.fullmatch(path.name).group(1))


def save_checkpoint(run_dir: Path, state: dict[str, Any], adapted: Any, *, keep_last: int,
                    best_step: int | None) -> Path:
    """Write ``state`` (from the loop's snapshot) and the adapter as ``step-N``; prune old ones."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    step = int(state["step"])
    final = root / f"step-{step}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".step-{step}.tmp-"))
    try:
        adapted.save(tmp / "adapter")
        torch.save(state, tmp / STATE_FILE)
        summary = {k: v for k, v in state.items() if k in ("step", "samples", "epoch", "batch", "losses",
                                                            "tokens", "wall_seconds", "device_seconds")}
        summary["evaluations"] = state.get("session", {}).get("evaluations", [])
        (tmp / TRAINER_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if final.exists():  # the same step saved again (e.g. the end of a resumed run)
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(run_dir, keep_last=keep_last, best_step=best_step)
    return final


def prune(run_dir: Path, *, keep_last: int, best_step: int | None) -> None:
    dirs = checkpoint_dirs(run_dir)
    keep = {step_of(p) for p in dirs[-keep_last:]}
    if best_step is not None:
        keep.add(best_step)
    for path in dirs:
        if step_of(path) not in keep:
            shutil.rmtree(path, ignore_errors=True)


def write_best(run_dir: Path, best: dict[str, Any]) -> None:
    path = Path(run_dir) / CHECKPOINTS_DIR / BEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(best, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def latest_checkpoint(run_dir: str | Path) -> Path:
    dirs = checkpoint_dirs(run_dir)
    if not dirs:
        raise PefomedError(f"{run_dir} has no checkpoint to resume from ({CHECKPOINTS_DIR}/step-N); "
                           "train with --save-every N, or start it again without --resume")
    return dirs[-1]


def load_state(checkpoint: Path) -> dict[str, Any]:
    # our own file: weights_only=False is needed for the RNG states and optimizer state
    return torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)


# --- model-side state -----------------------------------------------------------------------
def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n in weights if n not in params]
    if missing:
        raise PefomedError(f"the checkpoint does not fit this model ({len(missing)} unknown weights, e.g. "
                           f"{missing[0]}); resume with the run's own config")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def adalora_state(model: Any) -> dict[str, Any] | None:
    """AdaLoRA's importance scores (its rank allocator is not in the weights)."""
    allocator = getattr(getattr(model, "base_model", None), "rankallocator", None)
    if allocator is None:
        return None
    config = model.peft_config[model.base_model.trainable_adapter_name]
    return {"ipt": allocator.ipt, "exp_avg_ipt": allocator.exp_avg_ipt, "exp_avg_unc": allocator.exp_avg_unc,
            "rank_pattern": config.rank_pattern}


def load_adalora(model: Any, state: dict[str, Any] | None) -> None:
    if state is None:
        return
    allocator = model.base_model.rankallocator
    device = next(model.parameters()).device
    for key in ("ipt", "exp_avg_ipt", "exp_avg_unc"):
        setattr(allocator, key, {n: t.to(device) for n, t in state[key].items()})
    model.peft_config[model.base_model.trainable_adapter_name].rank_pattern = state["rank_pattern"]


def rng_state() -> dict[str, Any]:
    import random

    import numpy as np

    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def load_rng(state: dict[str, Any]) -> None:
    import random

    import numpy as np

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
