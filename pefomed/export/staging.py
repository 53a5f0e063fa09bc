"""A folder that appears whole or not at all: written beside its destination, then renamed."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_folder(dst: Path, recheck: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``dst``; on success it replaces ``dst`` (absent or an
    empty folder), on any error it is removed. ``recheck(dst)`` runs just before the rename (the
    destination may have been filled meanwhile)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.tmp-"))
    try:
        yield stage
        if recheck is not None:
            recheck(dst)
        if dst.exists():
            dst.rmdir()
        os.rename(stage, dst)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
