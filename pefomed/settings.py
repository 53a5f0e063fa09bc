"""Process-wide settings read from the environment (one place, so tests and CI agree)."""
from __future__ import annotations

import os
from pathlib import Path

#: Root of the team's shared data; ``PEFOMED_DATA`` overrides the ``../shared/data`` fallback.
DATA_ENV = "PEFOMED_DATA"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """Where real datasets live (``$PEFOMED_DATA``, else ``<project>/../shared/data``)."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else PROJECT_ROOT.parent / "shared" / "data"


def cache_root() -> Path:
    """Where pefomed caches things it builds (``$PEFOMED_CACHE``, else ``~/.cache/pefomed``)."""
    env = os.environ.get("PEFOMED_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pefomed"


def adapters_dir() -> Path:
    """The adapter presets and search spaces (``adapters/*.yaml``), data not code."""
    env = os.environ.get("PEFOMED_ADAPTERS_DIR")
    if env:
        return Path(env)
    packaged = Path(__file__).resolve().parent / "assets" / "adapters"
    repo = PROJECT_ROOT / "adapters"
    return repo if repo.is_dir() else packaged
