"""Opening a record's image with a one-line error that names the record and the file.

Training and evaluation should call :func:`open_image` rather than ``record.load_image()``:
a file deleted or corrupted after loading then surfaces as a :class:`PefomedError`, not a PIL
traceback.
"""
from __future__ import annotations

from PIL import Image

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError


def open_image(record: VQARecord) -> Image.Image:
    """The record's image as RGB; PefomedError naming the record and file when unreadable."""
    try:
        return record.load_image()
    except FileNotFoundError:
        raise PefomedError(f"record {record.id!r}: image {record.image} no longer exists; restore "
                           "it or reload the dataset") from None
    except Exception as exc:  # PIL raises many types for corrupt files
        what = "embedded image" if isinstance(record.image, Image.Image) else f"image {record.image}"
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise PefomedError(f"record {record.id!r}: {what} is unreadable ({reason}); replace it, or "
                           "load with validate_images=True and on_bad_record='skip'") from None
