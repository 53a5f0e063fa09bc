"""Is a saved adapter intact, and does it fit this model? Checked around every load.

Before loading: every ``*.safetensors`` file in the folder must parse (a truncated file or a bad
header is refused) and hold only finite values (NaN bytes are refused). After loading: the
model's adapter tensors and the file's must match one to one, by name and shape, so a file that
lost some tensors (which peft only warns about, leaving them at their initial values) or an
adapter of another model with other widths is refused. Each problem is one line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError


def check_weight_files(folder: Path) -> dict[Path, dict[str, tuple[int, ...]]]:
    """Shapes of every tensor of every safetensors file under ``folder``; refuses damaged files."""
    import torch
    from safetensors import safe_open

    out: dict[Path, dict[str, tuple[int, ...]]] = {}
    for path in sorted(folder.rglob("*.safetensors")):
        shapes: dict[str, tuple[int, ...]] = {}
        try:
            with safe_open(str(path), framework="pt") as fh:
                for key in fh.keys():
                    tensor = fh.get_tensor(key)
                    shapes[key] = tuple(tensor.shape)
                    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                        raise PefomedError(
                            f"{path} holds non-finite values (NaN or inf) in tensor {key}; the file is "
                            "damaged or its training diverged: restore the adapter or train it again")
        except PefomedError:
            raise
        except Exception as exc:  # safetensors raises SafetensorError, OSError, ValueError...
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise PefomedError(f"{path} is not a readable safetensors file ({reason}); the file is damaged "
                               "or truncated: restore the adapter or save it again") from None
        out[path] = shapes
    return out


def does_not_fit(folder: Path, record: dict[str, Any], bundle: Any, reason: str) -> PefomedError:
    """The one line for an adapter whose tensors do not fit ``bundle``."""
    reason = " ".join(reason.split())
    if len(reason) > 300:
        reason = reason[:300] + "..."
    return PefomedError(
        f"{folder} holds a {record['method']} adapter of {record['model']} that does not fit "
        f"{bundle.name} ({reason}); load it onto {record['model']} or a model with the same layer shapes"
    )


def check_loaded(expected: dict[str, tuple[int, ...]] | None, saved: dict[str, tuple[int, ...]],
                 path: Path, record: dict[str, Any], bundle: Any) -> None:
    """The loaded adapter's tensors (name -> shape) against the file's; None skips the check."""
    if expected is None:
        return
    missing = sorted(set(expected) - set(saved))
    if missing:
        raise PefomedError(f"{path} lacks {len(missing)} of the adapter's {len(expected)} tensors (e.g. "
                           f"{missing[0]}); the file is incomplete: restore the adapter or save it again")
    unexpected = sorted(set(saved) - set(expected))
    if unexpected:
        raise PefomedError(f"{path} holds {len(unexpected)} tensors this adapter has no place for (e.g. "
                           f"{unexpected[0]}); it was saved from another configuration: re-save it")
    wrong = [k for k in expected if tuple(expected[k]) != tuple(saved[k])]
    if wrong:
        k = wrong[0]
        raise does_not_fit(path.parent, record, bundle,
                           f"tensor {k} has shape {list(saved[k])} where the model needs {list(expected[k])}")
