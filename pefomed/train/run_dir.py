"""The run folder's life: opened with an in-progress marker, finished with ``run.json``.

While a run trains its folder holds ``config.yaml``, ``in_progress.json``, ``metrics.jsonl``,
``spend.json`` and ``checkpoints/`` (what ``--resume`` needs). The final files are built in a
temporary folder inside it and moved into place; ``run.json`` comes last and the marker goes
after it, so a folder with ``run.json`` and no marker is complete. A run that dies before its
first checkpoint leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.train.checkpoint import checkpoint_dirs

MARKER = "in_progress.json"
RUN_FILE = "run.json"


def check_new(out_dir: str | None) -> Path | None:
    if out_dir is None:
        return None
    out = Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        hint = " (an interrupted run: continue it with --resume)" if (out / MARKER).is_file() else ""
        raise PefomedError(f"output folder {out} already exists and is not empty{hint}; "
                           "give a new --out/out_dir or remove it")
    check_writable(out)
    return out


def check_writable(out: Path) -> None:
    """Refuse an --out that could not be created or written, before any training is spent on it."""
    ancestor = out if out.exists() else out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PefomedError(f"cannot write output folder {out}: {ancestor} is a file, not a folder; "
                           "give another --out/out_dir")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PefomedError(f"cannot write output folder {out}: {ancestor} is not writable (permissions or a "
                           "read-only filesystem); give a writable --out/out_dir")


def check_resumable(out_dir: str | None) -> Path:
    if out_dir is None:
        raise PefomedError("resume needs the run folder (out_dir / --resume RUN_DIR)")
    out = Path(out_dir).expanduser()
    if not out.is_dir():
        raise PefomedError(f"cannot resume {out}: it is not a folder; give a run folder written by "
                           "`pefomed train`")
    return out


def mark_in_progress(out: Path) -> None:
    """The folder is (again) an unfinished run: marker on, completion record off."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MARKER, {"pid": os.getpid(), "host": socket.gethostname(),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    with contextlib.suppress(FileNotFoundError):
        (out / RUN_FILE).unlink()


def is_complete(out: str | Path) -> bool:
    out = Path(out)
    return (out / RUN_FILE).is_file() and not (out / MARKER).is_file()


@contextlib.contextmanager
def cleaned_on_error(out: Path | None, created: bool):
    """Removes a folder this run created if it fails before any checkpoint was written."""
    try:
        yield
    except BaseException:
        if out is not None and created and out.is_dir() and not checkpoint_dirs(out):
            shutil.rmtree(out, ignore_errors=True)
        raise


@contextlib.contextmanager
def finishing(out: Path | None):
    """A temporary folder inside ``out`` whose files replace ``out``'s on success, run.json last."""
    if out is None:
        yield None
        return
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out, prefix=".final.tmp-"))
    try:
        yield stage
        names = sorted((p.name for p in stage.iterdir()), key=lambda n: n == RUN_FILE)
        for name in names:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(stage / name, target)
        with contextlib.suppress(FileNotFoundError):
            (out / MARKER).unlink()
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
