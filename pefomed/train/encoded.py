"""Model inputs encoded once per record and kept for the run; batches are collated from them.

Running the processor (image preprocessing, tokenisation, label masking) on every batch at every
step repeats the same work each epoch. :class:`EncodedRecords` encodes each record alone the
first time it is seen and keeps the row; ``family.collate`` pads rows into the batch the
processor would have produced. Rows hold preprocessed pixels until the feature cache has the
image's features (then :meth:`EncodedRecords.drop_pixels` frees them). Past ``max_bytes`` new
rows are encoded again whenever they are needed, so memory stays bounded on large datasets.
"""
from __future__ import annotations

from typing import Any

import torch

from pefomed.data.record import VQARecord
from pefomed.models.collate import is_pixel_key

#: default byte budget for kept rows (pixels dominate: 3 x 336 x 336 fp32 is 1.3 MB)
DEFAULT_MAX_BYTES = 1 << 30


class EncodedRecords:
    """Rows of ``bundle.family.encode`` per record (keyed by the record object itself)."""

    def __init__(self, bundle: Any, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.bundle = bundle
        self.family = bundle.family
        self.max_bytes = max_bytes
        self.bytes = 0
        self.encoded = 0  # processor calls made (one per record when everything fits)
        self._rows: dict[int, tuple[VQARecord, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self, records: list[VQARecord]) -> list[dict[str, Any]]:
        """One row per record, in order (encoded now if not kept yet)."""
        return [self._row(r) for r in records]

    def batch(self, records: list[VQARecord], skip_pixels: bool = False) -> tuple[dict[str, Any], list[dict]]:
        """The collated batch (without pixel inputs when ``skip_pixels``) and its rows."""
        rows = self.rows(records)
        skip = tuple(k for k in rows[0] if is_pixel_key(k)) if skip_pixels else ()
        return self.family.collate(self.bundle, rows, skip), rows

    def drop_pixels(self, records: list[VQARecord]) -> None:
        """Forget the preprocessed pixels of these records (their image features are cached)."""
        for record in records:
            kept = self._rows.get(id(record))
            if kept is None or kept[0] is not record:
                continue
            for key in [k for k in kept[1] if is_pixel_key(k)]:
                self.bytes -= _nbytes(kept[1].pop(key))

    def _row(self, record: VQARecord) -> dict[str, Any]:
        kept = self._rows.get(id(record))
        if kept is not None and kept[0] is record:  # the record is held, so its id is not reused
            return kept[1]
        row = self.family.encode(self.bundle, [record.load_image()], [record.question], [record.answer])
        self.encoded += 1
        size = sum(_nbytes(v) for v in row.values())
        if self.bytes + size <= self.max_bytes:
            self._rows[id(record)] = (record, row)
            self.bytes += size
        return row


def _nbytes(value: Any) -> int:
    return value.numel() * value.element_size() if isinstance(value, torch.Tensor) else 0
