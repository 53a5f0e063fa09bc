"""The generic loader: any JSON / JSONL / CSV / Parquet file, a folder of split files, a saved
Hugging Face dataset, or a hub id, with configurable field names.

    load_dataset("my_vqa.jsonl")                                  # image paths relative to the file
    load_dataset("exports/", split="test")                        # exports/test.json (or val -> ...)
    load_dataset("my.csv", fields={"image": "img_path", "answer": "label"})

Defaults: ``image``, ``question``, ``answer`` are required; ``answer_type`` (closed for yes/no
when absent), ``id`` (a stable content hash when absent), ``question_type``, ``organ`` and
``modality`` are optional (the last three lower-cased). LLaVA conversation files and LLaVA-Med
question files are recognised without a mapping (see :mod:`pefomed.data.llava`). Image values may be paths (relative to
``root=``, else the file's folder), raw bytes, ``{"bytes", "path"}`` dicts (Hugging Face Image)
or PIL images.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pefomed.data.build import build_record, content_id, missing_fields, text_value
from pefomed.data.context import LoadContext, Where, unreadable_reason
from pefomed.data.llava import normalise_rows
from pefomed.data.record import VQARecord
from pefomed.data.sources import (
    TABLE_SUFFIXES, Row, hf_disk_rows, hf_hub_rows, is_hf_saved, parquet_rows, split_aliases,
    table_rows,
)
from pefomed.data.split import IMAGE_SHA_KEY
from pefomed.errors import PefomedError, did_you_mean

_SCALARS = (str, int, float, bool)
#: Files that give away a registered dataset's layout, for a hint when a folder is loaded as-is.
_KNOWN_LAYOUTS = (("trainset.json", "vqa-rad"), ("VQA_RAD Dataset Public.json", "vqa-rad"),
                  ("validate.json", "slake"), ("qas", "pathvqa"))


@dataclass(frozen=True)
class Fields:
    """Which source column holds each record field (``fields={"image": "img_path"}``)."""

    image: str = "image"
    question: str = "question"
    answer: str = "answer"
    answer_type: str = "answer_type"
    id: str = "id"
    question_type: str = "question_type"
    organ: str = "organ"
    modality: str = "modality"

    def __post_init__(self) -> None:
        errors = _value_errors(dataclasses.asdict(self))
        if errors:
            raise PefomedError("; ".join(errors))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str] | None) -> Fields:
        """Defaults overridden by ``mapping``; every bad key or value is reported at once."""
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise PefomedError(f"fields must be a mapping like {{'image': 'img_path'}}, "
                               f"but got {type(mapping).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        errors = [did_you_mean(k, known, "field") for k in mapping if k not in known]
        errors += _value_errors({k: v for k, v in mapping.items() if k in known})
        if errors:
            raise PefomedError("; ".join(errors))
        return cls(**dict(mapping))


def _value_errors(columns: Mapping[str, object]) -> list[str]:
    return [f"fields[{k!r}] must be a non-empty column name, but got {v!r}"
            for k, v in columns.items() if not isinstance(v, str) or not v]


class ImageResolver:
    """Turns an image cell into (image, image_id, extra) — a path under ``root`` or bytes."""

    def __init__(self, root: Path, ctx: LoadContext, rename: Callable[[str], str] | None = None):
        self.root, self.ctx, self.rename = root, ctx, rename
        self._by_sha: dict[str, Image.Image] = {}

    def __call__(self, value: Any, where: Where) -> tuple[Path | Image.Image, str, dict] | None:
        if isinstance(value, Image.Image):
            return value, "", {}
        if isinstance(value, dict):
            data, path = value.get("bytes"), value.get("path")
            if data:
                return self._from_bytes(bytes(data), where, Path(path).name if path else "")
            value = path
        if isinstance(value, (bytes, bytearray)):
            return self._from_bytes(bytes(value), where, "")
        if isinstance(value, str) and self.rename is not None:
            value = self.rename(value)
        path = self.ctx.image_path(self.root, value, where)
        if path is None:
            return None
        return path, Path(os.path.relpath(path, os.path.abspath(self.root))).as_posix(), {}

    def _from_bytes(self, data: bytes, where: Where, name: str):
        sha = hashlib.sha256(data).hexdigest()
        image = self._by_sha.get(sha)
        if image is None:
            problem = unreadable_reason(io.BytesIO(data)) if self.ctx.validate_images else None
            if problem is None:
                try:  # lazy: reads the header only; pixels decode on first use
                    image = Image.open(io.BytesIO(data))
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                self.ctx.bad(where, f"embedded image is unreadable ({problem})",
                             "re-export the dataset with valid image bytes")
                return None
            self._by_sha[sha] = image
        return image, name or sha[:16], {IMAGE_SHA_KEY: sha}


def rows_to_records(
    rows: Iterable[Row],
    ctx: LoadContext,
    fields: Fields,
    images: ImageResolver,
    *,
    id_prefix: str = "",
    index_ids: bool = False,
) -> list[VQARecord]:
    """Checked records from raw rows; bad rows go through ``ctx.bad``.

    Ids: ``id_prefix`` + the id column, else the row index (``index_ids``), else a content hash
    (with ``-2``, ``-3`` ... for repeated content, so ids stay unique and stable).
    """
    records: list[VQARecord] = []
    seen_content: dict[str, int] = {}
    required = (fields.image, fields.question, fields.answer)
    mapped = set(dataclasses.asdict(fields).values())
    for where, row in rows:
        given_id = text_value(row.get(fields.id))
        where = dataclasses.replace(where, id=given_id or None)
        missing = missing_fields(row, required)
        if missing:
            ctx.bad(where, f"missing field(s) {', '.join(missing)} (has {', '.join(row) or 'none'})",
                    "add them or map your column names with fields={'image': ..., ...}")
            continue
        resolved = images(row[fields.image], where)
        if resolved is None:
            continue
        image, image_id, extra = resolved
        if given_id:
            record_id = given_id
        elif index_ids:
            record_id = str(where.index)
        else:
            base = content_id(image_id or extra.get(IMAGE_SHA_KEY, ""),
                              text_value(row[fields.question]), text_value(row[fields.answer]))
            seen_content[base] = seen_content.get(base, 0) + 1
            record_id = base if seen_content[base] == 1 else f"{base}-{seen_content[base]}"
        extra.update({k: v for k, v in row.items() if k not in mapped and isinstance(v, _SCALARS)})
        record = build_record(
            ctx, dataclasses.replace(where, id=id_prefix + record_id),
            record_id=id_prefix + record_id, question=row[fields.question],
            answer=row[fields.answer], answer_type=row.get(fields.answer_type), infer_type=True,
            image=image, image_id=image_id,
            question_type=text_value(row.get(fields.question_type)).lower(),
            organ=text_value(row.get(fields.organ)).lower(),
            modality=text_value(row.get(fields.modality)).lower(),
            extra=extra,
        )
        if record is not None:
            records.append(record)
    return records


def load_generic(ctx: LoadContext, source: str, *, fields: Mapping[str, str] | None = None,
                 ) -> list[VQARecord]:
    """Records of ``ctx.split`` from a file, a folder or a hub id (see the module docstring)."""
    mapping = Fields.from_mapping(fields)
    path = Path(source).expanduser()
    if path.is_file():
        rows, base = table_rows(path, ctx), path.parent
    elif path.is_dir() and is_hf_saved(path):
        rows, base = hf_disk_rows(path, ctx.split, split_aliases(ctx.split)), path
    elif path.is_dir():
        rows, base = _folder_rows(path, ctx), path
    else:
        rows, base = hf_hub_rows(source, ctx.split), Path.cwd()
    if fields is None:  # LLaVA conversations and LLaVA-Med question files, recognised by their keys
        rows = normalise_rows(rows, ctx)
    images = ImageResolver(ctx.root or base, ctx)
    return rows_to_records(rows, ctx, mapping, images)


def split_files(folder: Path, split: str) -> list[Path]:
    """The annotation file(s) of ``split`` in ``folder``: ``<split>.<ext>``, or Parquet shards
    ``<split>-*.parquet`` (also under ``data/``, the Hugging Face hub layout); aliases count."""
    for name in (split, *split_aliases(split)):
        for suffix in TABLE_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                return [folder / f"{name}{suffix}"]
        for sub in (folder, folder / "data"):
            shards = sorted(sub.glob(f"{name}-*.parquet"))
            if shards:
                return shards
    return []


def _folder_rows(folder: Path, ctx: LoadContext) -> Iterable[Row]:
    files = split_files(folder, ctx.split)
    if not files:
        tables = sorted(p for p in folder.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
        if len(tables) != 1:
            found = ", ".join(p.name for p in tables) or "no annotation files"
            known = next((f"; it looks like {name!r}: load_dataset({name!r}, root={str(folder)!r})"
                          for marker, name in _KNOWN_LAYOUTS if (folder / marker).exists()), "")
            raise PefomedError(
                f"{folder}: no annotation file for split {ctx.split!r} (found {found}); name it "
                f"{ctx.split}.json/.jsonl/.csv/.parquet or pass the file itself{known}"
            )
        files = tables
    if files[0].suffix == ".parquet":
        return parquet_rows(files)
    return table_rows(files[0], ctx)
