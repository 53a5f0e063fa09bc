"""Turn one raw annotation (already mapped to our field names) into a checked :class:`VQARecord`.

Shared by every loader so the rules are the same everywhere: question and answer are non-empty
strings after trimming (integer answers become strings), the answer type is closed/open in any
case and with stray whitespace (VQA-RAD has ``"CLOSED "``), or inferred from yes/no answers where
the loader allows it, and ids are unique within a split.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from pefomed.data.context import LoadContext, Where
from pefomed.data.record import ANSWER_TYPES, VQARecord

YES_NO = frozenset({"yes", "no"})


def text_value(value: Any) -> str:
    """A field as trimmed text: integers stay integers (``4.0`` -> ``"4"``), booleans -> yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def infer_answer_type(answer: str) -> str:
    """``closed`` for yes/no answers, else ``open`` (the usual Med-VQA convention)."""
    return "closed" if answer.strip().lower() in YES_NO else "open"


def missing_fields(raw: Mapping[str, Any], required: tuple[str, ...]) -> list[str]:
    """The required keys absent from ``raw`` (present-but-empty is checked later, per field)."""
    return [k for k in required if k not in raw or raw[k] is None]


def content_id(image_ref: str, question: str, answer: str) -> str:
    """A stable id from content, for sources that have none."""
    digest = hashlib.sha256("\x1f".join((image_ref, question, answer)).encode()).hexdigest()
    return digest[:16]


def build_record(
    ctx: LoadContext,
    where: Where,
    *,
    record_id: str,
    question: Any,
    answer: Any,
    answer_type: Any,
    image: Path | Image.Image,
    image_id: str,
    infer_type: bool = False,
    question_type: str = "",
    organ: str = "",
    modality: str = "",
    extra: dict | None = None,
) -> VQARecord | None:
    """A checked record, or None after reporting the first problem through ``ctx.bad``."""
    q, a = text_value(question), text_value(answer)
    if not q:
        ctx.bad(where, "empty question", "write the question text or remove the record")
        return None
    if not a:
        ctx.bad(where, "empty answer", "write the answer text or remove the record")
        return None
    raw_type = text_value(answer_type).lower()
    if not raw_type and infer_type:
        kind = infer_answer_type(a)
    elif raw_type in ANSWER_TYPES:
        kind = raw_type
    else:
        shown = "missing" if not raw_type else repr(text_value(answer_type))
        ctx.bad(where, f"answer_type must be one of {', '.join(ANSWER_TYPES)} (any case), "
                f"but got {shown}", "fix the answer type")
        return None
    if not ctx.claim_id(record_id, where):
        return None
    return VQARecord(
        id=record_id, question=q, answer=a, answer_type=kind,  # type: ignore[arg-type]
        image=image, image_id=image_id, question_type=question_type, organ=organ,
        modality=modality, extra=dict(extra or {}),
    )
