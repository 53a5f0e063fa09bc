"""VQA-RAD (Lau et al., Scientific Data 2018): 315 radiology images, clinician-written QA.

Two layouts under the root (see the copy's PROVENANCE.md):

- ``layout="split"`` (default): ``trainset.json`` (3,064) / ``testset.json`` (451), the MEVF split
  most Med-VQA papers report on. Splits:
  ``train``, ``test``, and two derived from train: ``validation`` holds out a seeded
  ``validation_fraction`` of train's *images* with all their questions (so rephrasings of one
  question never straddle it), ``train-minus-validation`` is the rest. The hold-out depends only
  on ``validation_seed``, never on ``load_dataset(seed=...)``, so it is the same in every run.
- ``layout="original"``: the release file ``VQA_RAD Dataset Public.json`` (2,248), split ``all``.

Field mapping: ``answer_type`` closed/open (``"CLOSED "`` is trimmed), integer answers become
strings, ``question_type`` is the first listed type lower-cased (``"PRES, POS"`` -> ``pres``; the
typos ATRIB/PRSE are corrected) with the full string in ``extra["question_type_raw"]``,
``organ`` = ``image_organ`` lower-cased, ``modality`` is unknown (``""``). Ids are ``<file split>-<qid>``
(``train-2392``, ``test-11``, ``all-0``): validation records keep their ``train-`` ids.
"""
from __future__ import annotations

import random
from pathlib import Path

from pefomed.data.build import build_record, missing_fields, text_value
from pefomed.data.context import LoadContext, Where
from pefomed.data.record import VQARecord
from pefomed.data.registry import register_dataset
from pefomed.data.sources import json_rows
from pefomed.errors import PefomedError, did_you_mean

LAYOUTS: dict[str, dict[str, str]] = {
    "split": {"train": "trainset.json", "test": "testset.json"},
    "original": {"all": "VQA_RAD Dataset Public.json"},
}
DERIVED_SPLITS: tuple[str, ...] = ("validation", "train-minus-validation")
REQUIRED: tuple[str, ...] = ("qid", "image_name", "question", "answer", "answer_type")
_TYPE_FIXES = {"atrib": "attrib", "prse": "pres"}
_EXTRA_KEYS = ("phrase_type", "question_rephrase", "question_relation", "question_frame",
               "qid_linked_id", "image_case_url", "evaluation")


@register_dataset(
    "vqa-rad",
    description="VQA-RAD radiology VQA (Lau et al. 2018): MEVF split train 3,064 / test 451; "
                "validation = seeded 10% of train images; layout='original' gives the 2,248 release",
    splits=("train", "test", *DERIVED_SPLITS, "all"),
    root_dir="vqa_rad",
)
def load_vqa_rad(ctx: LoadContext, *, layout: str = "split", validation_fraction: float = 0.1,
                 validation_seed: int = 0) -> list[VQARecord]:
    """Records of ``ctx.split`` from the VQA-RAD copy at ``ctx.root`` (see the module docstring)."""
    if layout not in LAYOUTS:
        raise PefomedError(did_you_mean(layout, LAYOUTS, "VQA-RAD layout"))
    if not isinstance(validation_fraction, (int, float)) or not 0 < validation_fraction < 1:
        raise PefomedError(f"validation_fraction must satisfy 0 < fraction < 1, but got "
                           f"{validation_fraction!r}")
    files = LAYOUTS[layout]
    split = ctx.split
    known = list(files) + (list(DERIVED_SPLITS) if layout == "split" else [])
    if split not in known:
        other = next((name for name, fs in LAYOUTS.items() if split in fs), None)
        hint = f" (split {split!r} needs layout={other!r})" if other else ""
        raise PefomedError(did_you_mean(split, known, "VQA-RAD split") + f" (layout={layout!r})"
                           + hint)
    source = "train" if split in DERIVED_SPLITS else split
    path = Path(ctx.root) / files[source]
    if not path.is_file():
        present = [n for n, fs in LAYOUTS.items() if all((Path(ctx.root) / f).is_file()
                                                         for f in fs.values())]
        hint = f"; this folder has layout={present[0]!r}" if present else ""
        raise PefomedError(f"{path}: VQA-RAD file not found{hint}; point root= at the folder "
                           f"holding {', '.join(files.values())} and images/")
    records = _read(path, source, ctx)
    if split in DERIVED_SPLITS:
        held = held_out_images(records, validation_fraction, validation_seed)
        keep = split == "validation"
        records = [r for r in records if (r.image_id in held) == keep]
    return records


def held_out_images(records: list[VQARecord], fraction: float, seed: int) -> set[str]:
    """A seeded ``fraction`` of the distinct images (at least one), independent of record order."""
    images = sorted({r.image_id for r in records})
    random.Random(seed).shuffle(images)
    return set(images[: max(1, round(fraction * len(images)))])


def question_type(raw: str) -> str:
    """First listed type, lower-cased, known typos fixed: ``"PRES, POS"`` -> ``"pres"``."""
    first = raw.split(",")[0].strip().lower()
    return _TYPE_FIXES.get(first, first)


def _read(path: Path, source_split: str, ctx: LoadContext) -> list[VQARecord]:
    images = Path(ctx.root) / "images"
    records: list[VQARecord] = []
    for where, row in json_rows(path, ctx):
        qid = text_value(row.get("qid"))
        record_id = f"{source_split}-{qid}"
        where = Where(where.file, where.index, record_id if qid else None)
        missing = missing_fields(row, REQUIRED)
        if missing:
            ctx.bad(where, f"missing field(s) {', '.join(missing)}",
                    "restore the record from the original release")
            continue
        image_name = text_value(row["image_name"])
        image = ctx.image_path(images, image_name, where)
        if image is None:
            continue
        raw_type = text_value(row.get("question_type"))
        extra = {"qid": row["qid"], "question_type_raw": raw_type}
        extra.update({k: row[k] for k in _EXTRA_KEYS if k in row})
        record = build_record(
            ctx, where, record_id=record_id, question=row["question"], answer=row["answer"],
            answer_type=row["answer_type"], image=image, image_id=image_name,
            question_type=question_type(raw_type),
            organ=text_value(row.get("image_organ")).lower(),
            extra=extra,
        )
        if record is not None:
            records.append(record)
    return records
