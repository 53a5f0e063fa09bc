"""Opening a record's image with a one-line error that names the record and the file.

The one-line error lives in :meth:`VQARecord.load_image`, so every reader (training steps,
feature caches, evaluation) gets it; :func:`open_image` is kept as the named entry point.
"""
from __future__ import annotations

from PIL import Image

from pefomed.data.record import VQARecord


def open_image(record: VQARecord) -> Image.Image:
    """The record's image as RGB; PefomedError naming the record and file when unreadable
    (:meth:`VQARecord.load_image` itself raises it, so every reader gets the same line)."""
    return record.load_image()
