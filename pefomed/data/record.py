"""The one record type every Med-VQA loader yields."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

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
        """The image as RGB."""
        if isinstance(self.image, Image.Image):
            return self.image.convert("RGB")
        with Image.open(self.image) as im:
            return im.convert("RGB")
