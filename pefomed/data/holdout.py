"""Train/eval data for one run: a seeded held-out part of an unsplit file, and overlap checks.

A single annotation file (or a folder with one file, or a saved dataset without splits) has no
test split: loading it for "train" and for "test" gives the same records. A run on such a source
holds out a seeded ``fraction`` of its *images* (all questions of an image go to the same side),
unless an evaluation file is named. :func:`overlap` counts eval records whose (image, question)
also occur in training, so a run can say loudly when it scores on what it trained on.
"""
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from pefomed.data.record import VQARecord
from pefomed.data.split import Split, image_identity
from pefomed.errors import PefomedError

DEFAULT_FRACTION = 0.1


def has_splits(source: str) -> bool:
    """False for a source whose every split is the same records: a file, a folder holding one
    annotation file and no ``<split>.<ext>`` files, a saved dataset that is not a DatasetDict."""
    from pefomed.data.generic import split_files
    from pefomed.data.registry import DATASETS, _ensure_builtin_datasets
    from pefomed.data.sources import TABLE_SUFFIXES, is_hf_saved

    _ensure_builtin_datasets()
    if source in DATASETS:
        return True
    path = Path(source).expanduser()
    if path.is_file():
        return False
    if path.is_dir():
        if is_hf_saved(path):
            return (path / "dataset_dict.json").is_file()
        if split_files(path, "train") or split_files(path, "test") or split_files(path, "validation"):
            return True
        return not [p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES]
    return True  # a hub id: its splits are its own


def held_out_images(records: list[VQARecord], fraction: float, seed: int) -> set[str]:
    """A seeded ``fraction`` of the distinct images (at least one), independent of record order."""
    keys = sorted({_image_key(r) for r in records})
    random.Random(seed).shuffle(keys)
    return set(keys[: max(1, round(fraction * len(keys)))])


def holdout(split: Split, fraction: float, seed: int) -> tuple[Split, Split, dict]:
    """(train, held-out, record) from one unsplit source, split by image with ``seed``."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise PefomedError(f"holdout_fraction must satisfy 0 < fraction < 1, but got {fraction!r}")
    images = {_image_key(r) for r in split.records}
    if len(images) < 2:
        raise PefomedError(f"{split.dataset}: {len(images)} distinct image(s), too few to hold some out for "
                           "evaluation; add records or name an evaluation file (--eval-dataset)")
    held = held_out_images(split.records, fraction, seed)
    train = [r for r in split.records if _image_key(r) not in held]
    test = [r for r in split.records if _image_key(r) in held]
    info = {"fraction": fraction, "seed": seed, "images": len(held), "of_images": len(images),
            "records": len(test), "of_records": len(split.records)}
    common = dict(skipped=split.skipped, skipped_reasons=split.skipped_reasons, root=split.root,
                  options=split.options, skip_counts=split.skip_counts)
    return (Split(split.dataset, "train (held-in)", train, **common),
            Split(split.dataset, "held-out", test, **common), info)


def overlap(train: Split, test: Split) -> int:
    """How many eval records ask a question that training also asked about the same image."""
    seen = {(_image_key(r), r.question.strip().lower()) for r in train.records}
    return sum((_image_key(r), r.question.strip().lower()) in seen for r in test.records)


def limited(split: Split, limit: int | None, seed: int) -> Split:
    """``split`` cut to a seeded ``limit`` (as ``load_dataset(limit=...)`` does)."""
    from pefomed.data.split import take_subset

    if limit is None or limit >= len(split.records):
        return split
    return replace(split, records=take_subset(split.records, limit, seed), fingerprint="")


def _image_key(record: VQARecord) -> str:
    return "|".join(map(str, image_identity(record)))
