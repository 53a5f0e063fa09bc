"""The one record type every Med-VQA loader yields."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from pefomed.errors import PefomedError

AnswerType = Literal["closed", "open"]
ANSWER_TYPES: tuple[str, ...] = ("closed", "open")


@dataclass(frozen=True)
class VQARecord:
    """One Med-VQA item.

    ``image`` is either a path (loaded lazily by :meth:`load_image`) or an in-memory PIL image
    (synthetic data). ``answer`` is always a string; loaders normalise integers and whitespace.
    """

    id: str
    question: str
    answer: str
    answer_type: AnswerType
    image: Path | Image.Image = field(repr=False, compare=False)
    image_id: str = ""
    question_type: str = ""
    organ: str = ""
    modality: str = ""
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def load_image(self) -> Image.Image:
        """The image as RGB; a missing or corrupt file (empty, truncated, not an image, a
        decompression bomb) raises a one-line PefomedError naming this record and the file, so
        training and evaluation, whoever calls this, fail the same clean way."""
        try:
            if isinstance(self.image, Image.Image):
                return self.image.convert("RGB")
            with Image.open(self.image) as im:
                return im.convert("RGB")
        except FileNotFoundError:
            raise PefomedError(f"record {self.id!r}: image {self.image} no longer exists; restore "
                               "it or reload the dataset") from None
        except Exception as exc:  # PIL raises many types for corrupt files
            what = "embedded image" if isinstance(self.image, Image.Image) else f"image {self.image}"
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise PefomedError(f"record {self.id!r}: {what} is unreadable ({reason}); replace it, or "
                               "load with validate_images=True and on_bad_record='skip'") from None
