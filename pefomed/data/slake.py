"""SLAKE 1.0 (Liu et al., ISBI 2021): bilingual (English/Chinese) radiology VQA.

The official release layout (``Slake1.0/`` inside the download; either folder works as root)::

    train.json  validate.json  test.json
    imgs/xmlab0/source.jpg  (plus mask.png, detection.json, ... which are not used)

Each file is a JSON list of objects with ``img_id``, ``img_name`` (``"xmlab102/source.jpg"``,
relative to ``imgs/``), ``question``, ``answer``, ``q_lang`` (``en``/``zh``), ``location``,
``modality``, ``answer_type`` (``OPEN``/``CLOSED``), ``base_type`` (``vqa``/``kvqa``),
``content_type``, ``triple``, ``qid``. English only by default (``language="en"``; ``"zh"`` or
``"all"`` for the rest). Field mapping, lower-cased: ``question_type`` = ``content_type``,
``organ`` = ``location``, ``modality`` = ``modality``; ids are ``<split>-<qid>``.
"""
from __future__ import annotations

from pathlib import Path

from pefomed.data.build import build_record, missing_fields, text_value
from pefomed.data.context import LoadContext, Where
from pefomed.data.record import VQARecord
from pefomed.data.registry import register_dataset
from pefomed.data.sources import json_rows
from pefomed.errors import PefomedError, did_you_mean

FILES: dict[str, str] = {"train": "train.json", "validation": "validate.json", "test": "test.json"}
LANGUAGES: tuple[str, ...] = ("en", "zh", "all")
REQUIRED: tuple[str, ...] = ("qid", "img_name", "question", "answer", "answer_type", "q_lang")
_EXTRA_KEYS = ("qid", "img_id", "q_lang", "base_type", "content_type", "triple")


@register_dataset(
    "slake",
    description="SLAKE 1.0 bilingual radiology VQA (Liu et al. 2021), official "
                "train/validate/test JSON + imgs/; English by default (language='en'|'zh'|'all')",
    splits=tuple(FILES),
    root_dir="slake",
)
def load_slake(ctx: LoadContext, *, language: str = "en") -> list[VQARecord]:
    """Records of ``ctx.split`` in ``language`` from the SLAKE release at ``ctx.root``."""
    if language not in LANGUAGES:
        raise PefomedError(did_you_mean(language, LANGUAGES, "SLAKE language"))
    split = ctx.split
    if split not in FILES:
        raise PefomedError(did_you_mean(split, FILES, "SLAKE split"))
    root = Path(ctx.root)
    if not (root / FILES[split]).is_file() and (root / "Slake1.0" / FILES[split]).is_file():
        root = root / "Slake1.0"
    path = root / FILES[split]
    if not path.is_file():
        raise PefomedError(f"{path}: SLAKE file not found; point root= at the Slake1.0 folder "
                           "holding train.json, validate.json, test.json and imgs/")
    records: list[VQARecord] = []
    for where, row in json_rows(path, ctx):
        qid = text_value(row.get("qid"))
        record_id = f"{split}-{qid}"
        where = Where(where.file, where.index, record_id if qid else None)
        missing = missing_fields(row, REQUIRED)
        if missing:
            ctx.bad(where, f"missing field(s) {', '.join(missing)}",
                    "restore the record from the SLAKE release")
            continue
        lang = text_value(row["q_lang"]).lower()
        if language != "all" and lang != language:
            continue
        image_name = text_value(row["img_name"])
        image = ctx.image_path(root / "imgs", image_name, where)
        if image is None:
            continue
        record = build_record(
            ctx, where, record_id=record_id, question=row["question"], answer=row["answer"],
            answer_type=row["answer_type"], image=image, image_id=image_name,
            question_type=text_value(row.get("content_type")).lower(),
            organ=text_value(row.get("location")).lower(),
            modality=text_value(row.get("modality")).lower(),
            extra={k: row[k] for k in _EXTRA_KEYS if k in row},
        )
        if record is not None:
            records.append(record)
    return records
