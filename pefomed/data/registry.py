"""Dataset registry and the one entry point, :func:`load_dataset`.

    @register_dataset("vqa-rad", description="...", splits=("train", "test"), root_dir="vqa_rad")
    def load_vqa_rad(ctx: LoadContext, *, layout: str = "split") -> list[VQARecord]: ...

    load_dataset("vqa-rad", "test")                      # a registered dataset
    load_dataset("./my_vqa.jsonl")                        # any file or folder: the generic loader
    load_dataset("org/name", "test")                      # a Hugging Face hub id (needs the network)

A loader takes a :class:`LoadContext` (split, root, bad-record policy) and keyword options; the
registry checks the options against its signature, applies ``limit`` and builds the :class:`Split`.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pefomed import settings
from pefomed.data.context import LoadContext
from pefomed.data.record import VQARecord
from pefomed.data.sources import canonical_split
from pefomed.data.split import Split, check_limit, take_subset
from pefomed.errors import PefomedError, UnknownNameError, did_you_mean
from pefomed.registry import Registry

Loader = Callable[..., list[VQARecord]]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: how to load it and what ``pefomed ls datasets`` shows."""

    name: str
    loader: Loader
    description: str
    needs_root: bool
    splits: tuple[str, ...]
    root_dir: str
    applies_limit: bool

    def default_root(self) -> Path | None:
        """``settings.data_root() / root_dir`` for datasets on disk, None for generated ones."""
        return settings.data_root() / self.root_dir if self.needs_root else None

    def options(self) -> list[str]:
        """The loader's keyword options (what ``**options`` may contain)."""
        params = inspect.signature(self.loader).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(
    name: str,
    *,
    description: str,
    needs_root: bool = True,
    splits: tuple[str, ...] = ("train", "validation", "test"),
    root_dir: str | None = None,
    applies_limit: bool = False,
) -> Callable[[Loader], Loader]:
    """Decorator registering ``loader(ctx, *, option=...) -> list[VQARecord]`` under ``name``.

    ``root_dir`` is the folder under ``settings.data_root()`` (default: ``name`` with ``-`` -> ``_``);
    ``applies_limit`` marks loaders that honour ``ctx.limit`` themselves (generators).
    """

    def deco(loader: Loader) -> Loader:
        DATASETS.add(name, DatasetEntry(
            name=name, loader=loader, description=description, needs_root=needs_root,
            splits=tuple(splits), root_dir=root_dir or name.replace("-", "_"),
            applies_limit=applies_limit,
        ))
        return loader

    return deco


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    _ensure_builtin_datasets()
    return DATASETS.names()


def get_dataset(name: str) -> DatasetEntry:
    """The registry entry for ``name`` (did-you-mean on unknown names)."""
    _ensure_builtin_datasets()
    return DATASETS.get(name)


def load_dataset(
    name_or_path: str | Path,
    split: str = "train",
    *,
    root: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    on_bad_record: str | None = None,
    validate_images: bool = False,
    **options: Any,
) -> Split:
    """Load one split of a registered dataset, a local file/folder, or a hub id.

    ``root`` overrides where a named dataset lives (default ``settings.data_root()/<root_dir>``);
    for files it is the folder image paths are relative to (default: the file's folder).
    ``limit`` keeps a ``seed``-ed subset in file order. ``on_bad_record="skip"`` drops bad records
    and counts them in ``Split.skipped`` (by kind in ``Split.skip_counts``, one line in
    ``Split.skip_note()``); ``"error"`` raises on the first one. The default (None) is ``"skip"``
    for registered public datasets, loaded as released (SLAKE 1.0's train.json has an empty
    answer), and ``"error"`` for your own files and folders.
    ``validate_images`` opens every image now instead of failing later in training.
    """
    _ensure_builtin_datasets()
    check_limit(limit)
    if not isinstance(split, str) or not split:
        raise PefomedError(f"split must be a non-empty name like 'train', but got {split!r}")
    split = canonical_split(split)
    source = str(name_or_path)
    entry = DATASETS.get(source) if isinstance(name_or_path, str) and source in DATASETS else None
    root_path = Path(root).expanduser() if root is not None else None
    if entry is None:
        return _load_source(source, split, root_path, limit, seed, on_bad_record or "error",
                            validate_images, options)
    on_bad_record = on_bad_record or ("skip" if entry.needs_root else "error")
    if entry.needs_root:
        root_path = root_path or entry.default_root()
        if not root_path.is_dir():
            raise PefomedError(
                f"dataset {entry.name!r} not found at {root_path}; put it there, set "
                f"{settings.DATA_ENV} to the folder holding {entry.root_dir}/, or pass root="
            )
    _check_options(entry, options)
    ctx = LoadContext(entry.name, split, root_path, seed, limit, on_bad_record, validate_images)
    records = entry.loader(ctx, **options)
    if limit is not None and not entry.applies_limit:
        records = take_subset(records, limit, seed)
    return Split(entry.name, split, records, skipped=ctx.skipped,
                 skipped_reasons=tuple(ctx.reasons), root=root_path, options=dict(options),
                 skip_counts=dict(ctx.skip_counts))


def _load_source(source: str, split: str, root: Path | None, limit: int | None, seed: int,
                 on_bad_record: str, validate_images: bool, options: dict) -> Split:
    from pefomed.data.generic import load_generic

    path = Path(source).expanduser()
    if not path.exists() and not _looks_like_hub_id(source):
        if "/" in source or "\\" in source or path.suffix:
            raise PefomedError(f"{path}: no such file or folder; check the path, or use a "
                               f"registered dataset ({', '.join(DATASETS.names())})")
        hint = did_you_mean(source, DATASETS.names(), "dataset")
        raise UnknownNameError(f"{hint} (or give an existing file or folder, or a hub id org/name)")
    unknown = sorted(set(options) - {"fields"})
    if unknown:
        raise PefomedError(f"unknown option(s) {', '.join(unknown)} for a file or folder "
                           "dataset; the only option is fields={'image': <column>, ...}")
    ctx = LoadContext(source, split, root, seed, limit, on_bad_record, validate_images)
    records = load_generic(ctx, source, **options)
    if limit is not None:
        records = take_subset(records, limit, seed)
    return Split(source, split, records, skipped=ctx.skipped, skipped_reasons=tuple(ctx.reasons),
                 skip_counts=dict(ctx.skip_counts),
                 root=root or (path.parent if path.is_file() else path if path.is_dir() else None),
                 options=dict(options))


def _check_options(entry: DatasetEntry, options: dict) -> None:
    known = entry.options()
    errors = [did_you_mean(k, known, f"{entry.name} option")
              if known else f"dataset {entry.name!r} takes no options, but got {k!r}"
              for k in options if k not in known]
    if errors:
        raise PefomedError("; ".join(errors))


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return (len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))
            and not Path(name).suffix)


def _ensure_builtin_datasets() -> None:
    import pefomed.data.builtin  # noqa: F401  (registers the built-in datasets)
