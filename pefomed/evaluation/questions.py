"""Questions without answers: what :func:`~pefomed.evaluation.predict` answers and ``pefomed predict`` reads.

A question file is JSON (a list of objects), JSONL or CSV; each row names an image (relative to
the file's folder, or absolute) and a question. Field names of common layouts are accepted:
``question`` or ``text`` (LLaVA-Med's question files), ``image`` / ``image_path`` /
``image_name`` / ``img_name``, and ``id`` / ``question_id`` / ``qid`` (default: the row number).
A folder holding exactly one such file stands for that file.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from pefomed.errors import PefomedError

QUESTION_FIELDS = ("question", "text")
IMAGE_FIELDS = ("image", "image_path", "image_name", "img_name")
ID_FIELDS = ("id", "question_id", "qid")
SUFFIXES = (".jsonl", ".json", ".csv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Question:
    """One image and one question, no reference answer (``predict`` accepts these beside records)."""

    image: Path | Image.Image = field(repr=False)
    question: str
    id: str = ""

    def load_image(self) -> Image.Image:
        """The image as RGB."""
        if isinstance(self.image, Image.Image):
            return self.image.convert("RGB")
        with Image.open(self.image) as im:
            return im.convert("RGB")


def as_question(item: Any, index: int) -> Any:
    """A record, a :class:`Question`, an ``(image, question)`` pair or a ``{"image", "question"}``
    dict, as something :func:`predict` can answer (records and questions pass through)."""
    from pefomed.data.record import VQARecord

    if isinstance(item, (VQARecord, Question)):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        image, question = item
        return _question(image, question, str(index), f"item {index}")
    if isinstance(item, dict):
        return _from_row(item, index, Path("."), f"item {index}")
    raise PefomedError(f"item {index} is a {type(item).__name__}; give VQARecords, Questions, "
                       "(image, question) pairs or {'image': ..., 'question': ...} dicts")


def load_questions(path: str | Path) -> list[Question]:
    """The questions of a JSON/JSONL/CSV file (or a folder holding one); answers, if any, ignored."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = _single_file(path)
    if not path.is_file():
        raise PefomedError(f"question file {path} does not exist; give a .jsonl, .json or .csv file or a folder")
    rows = _rows(path)
    if not rows:
        raise PefomedError(f"{path} holds no questions; add rows with an image and a question")
    return [_from_row(row, i, path.parent, f"{path} row {i + 1}") for i, row in enumerate(rows)]


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _single_file(folder: Path) -> Path:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if len(found) != 1:
        what = ", ".join(p.name for p in found) if found else "none"
        raise PefomedError(f"folder {folder} must hold exactly one question file (.jsonl, .json or .csv), "
                           f"but holds {what}; give the file itself")
    return found[0]


def _rows(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return list(csv.DictReader(text.splitlines()))
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PefomedError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from None
    if isinstance(data, dict) and isinstance(data.get("questions"), list):
        data = data["questions"]
    if not isinstance(data, list):
        raise PefomedError(f"{path} must hold a JSON list of question objects, but holds a {type(data).__name__}")
    return data


def _from_row(row: Any, index: int, root: Path, where: str) -> Question:
    if not isinstance(row, dict):
        raise PefomedError(f"{where}: expected an object with an image and a question, got {type(row).__name__}")
    question = _first(row, QUESTION_FIELDS)
    image = _first(row, IMAGE_FIELDS)
    missing = [names[0] for names, value in ((QUESTION_FIELDS, question), (IMAGE_FIELDS, image)) if value is None]
    if missing:
        raise PefomedError(f"{where}: missing field(s) {', '.join(missing)} (accepted: question/text, "
                           f"{'/'.join(IMAGE_FIELDS)}); add them")
    if isinstance(image, str):
        image = root / image if not Path(image).is_absolute() else Path(image)
    qid = _first(row, ID_FIELDS)
    return _question(image, question, str(qid) if qid is not None else str(index), where)


def _question(image: Any, question: Any, qid: str, where: str) -> Question:
    if not isinstance(question, str) or not question.strip():
        raise PefomedError(f"{where}: the question must be non-empty text, but got {question!r}")
    if isinstance(image, str):
        image = Path(image)
    if isinstance(image, Path):
        image = image.expanduser()
        if not image.is_file():
            raise PefomedError(f"{where}: image {image} does not exist; fix the path (relative paths are "
                               "relative to the question file's folder)")
    elif not isinstance(image, Image.Image):
        raise PefomedError(f"{where}: image must be a path or a PIL image, but got {type(image).__name__}")
    return Question(image=image, question=question.strip(), id=qid)


def _first(row: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None
