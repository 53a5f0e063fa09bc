"""Where a trained adapter came from: an adapter folder or a run folder, and the base it needs."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError

RUN_FILE = "run.json"
ADAPTER_DIR = "adapter"


@dataclass(frozen=True)
class AdapterSource:
    """A saved adapter (its ``pefomed_adapter.json``) and, when it sits in a run folder, the run record."""

    adapter_dir: Path
    record: dict[str, Any]
    run: dict[str, Any] | None = None

    @property
    def model(self) -> str:
        """The base model to build: the run's model name, else the adapter record's."""
        return self.run["spec"]["model"] if self.run else self.record["model"]

    @property
    def family(self) -> str:
        return self.record["family"]

    @property
    def seed(self) -> int:
        """The seed the base was built with (random-weight registry models depend on it)."""
        if self.run:
            return int(self.run["spec"].get("seed") or 0)
        return int(self.record.get("seed") or 0)


def resolve_adapter_source(path: str | Path) -> AdapterSource:
    """The adapter in ``path``: a folder saved by ``AdaptedModel.save`` or a run folder from
    ``pefomed train`` (its ``adapter/``; an adapter folder inside a run folder finds the run too)."""
    from pefomed.adapters.persist import read_record

    path = Path(path).expanduser()
    if not path.is_dir():
        raise PefomedError(f"{path} is not a folder; give a saved adapter or a run folder written by `pefomed train`")
    run_dir = path if (path / RUN_FILE).is_file() else path.parent if (path.parent / RUN_FILE).is_file() else None
    run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8")) if run_dir else None
    adapter_dir = path
    if run_dir == path:
        adapter_dir = path / ADAPTER_DIR
        if not adapter_dir.is_dir():
            raise PefomedError(f"run folder {path} has no {ADAPTER_DIR}/ (status {run.get('status')!r}, "
                               f"stop {run.get('stop_reason')!r}); nothing was saved to use")
    return AdapterSource(adapter_dir=adapter_dir, record=read_record(adapter_dir), run=run)


def load_base(source: AdapterSource, *, model: str | None = None, family: str | None = None) -> Any:
    """A fresh base model for ``source`` (``model`` / ``family`` override what it recorded)."""
    from pefomed.models.registry import create_model

    recorded = source.family if model is None else None  # another model: its own family applies
    return create_model(model or source.model, family=family or recorded, seed=source.seed)


def load_adapted_source(source: AdapterSource, *, model: str | None = None, family: str | None = None) -> Any:
    """The base with the adapter applied (an :class:`~pefomed.adapters.AdaptedModel`)."""
    from pefomed.adapters import load_adapted

    return load_adapted(load_base(source, model=model, family=family), source.adapter_dir)
