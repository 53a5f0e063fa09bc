"""A loaded split: its records, a content fingerprint, and what was skipped."""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError

#: ``record.extra`` key where a loader may store the sha256 of an in-memory image's encoded
#: bytes, so the fingerprint need not decode the pixels.
IMAGE_SHA_KEY = "image_sha256"


def image_identity(record: VQARecord) -> list:
    """What identifies a record's image in the fingerprint, stable across machines.

    Files: the root-relative name (``image_id``, else the file name) and the size in bytes.
    In-memory images: a hash of the encoded bytes when the loader knew them, else of the pixels.
    """
    image = record.image
    if isinstance(image, Image.Image):
        sha = record.extra.get(IMAGE_SHA_KEY)
        if not sha:
            h = hashlib.sha256(f"{image.mode}:{image.size}".encode())
            h.update(image.tobytes())
            sha = h.hexdigest()
        return ["bytes", sha]
    path = Path(image)
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    return ["file", record.image_id or path.name, size]


def fingerprint(records: Sequence[VQARecord]) -> str:
    """sha256 over each record's id, question, answer, answer type and image identity, in order."""
    h = hashlib.sha256()
    for r in records:
        row = [r.id, r.question, r.answer, r.answer_type, image_identity(r)]
        h.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def take_subset(records: Sequence[VQARecord], limit: int, seed: int) -> list[VQARecord]:
    """A seeded subset of ``limit`` records, in their original order.

    Nested by construction: for one seed, the first ``k`` of a fixed permutation are taken, so a
    smaller limit is always a subset of a larger one.
    """
    if limit >= len(records):
        return list(records)
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    keep = sorted(order[:limit])
    return [records[i] for i in keep]


def check_limit(limit: object) -> None:
    """``limit`` must be None or a positive integer."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise PefomedError(f"limit must be a positive integer or None, but got {limit!r}")


@dataclass
class Split:
    """One split of one dataset, ready for training or evaluation.

    ``fingerprint`` is computed from the records when not given; ``skipped`` counts records left
    out under ``on_bad_record="skip"`` and ``skipped_reasons`` keeps the first few messages.
    """

    dataset: str
    split: str
    records: list[VQARecord]
    fingerprint: str = ""
    skipped: int = 0
    skipped_reasons: tuple[str, ...] = ()
    root: Path | None = None
    options: dict = field(default_factory=dict)
    #: skipped records by kind of problem (``{"empty answer": 1}``)
    skip_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[VQARecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> VQARecord:
        return self.records[index]

    def skip_note(self) -> str | None:
        """``"slake train: 1 record skipped: empty answer"``, or None when nothing was skipped."""
        if not self.skipped:
            return None
        kinds = ", ".join(f"{n} {k}" if len(self.skip_counts) > 1 else k
                          for k, n in sorted(self.skip_counts.items(), key=lambda kv: -kv[1]))
        noun = "record" if self.skipped == 1 else "records"
        return f"{self.dataset} {self.split}: {self.skipped} {noun} skipped" + (f": {kinds}" if kinds else "")

    def summary(self) -> dict:
        """Counts for run records and ``ls``: size, closed/open, skipped, fingerprint."""
        closed = sum(r.answer_type == "closed" for r in self.records)
        return {
            "dataset": self.dataset, "split": self.split, "n": len(self.records),
            "closed": closed, "open": len(self.records) - closed, "skipped": self.skipped,
            "skipped_by_kind": dict(self.skip_counts), "skipped_reasons": list(self.skipped_reasons),
            "fingerprint": self.fingerprint,
        }
