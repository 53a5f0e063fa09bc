"""PathVQA (He et al. 2020): 32,799 QA pairs on ~5k pathology images; splits train/val/test.

Accepted layouts under the root (or its ``pvqa/`` sub-folder), tried in this order:

1. a saved Hugging Face dataset (``save_to_disk`` of ``flaviagiammarino/path-vqa``);
2. the Hugging Face hub repo's Parquet files: ``data/{train,validation,test}-*.parquet`` with
   columns ``image`` (``{"bytes", "path"}``), ``question``, ``answer``; or a JSON/JSONL/CSV
   export named ``<split>.<ext>`` with the same columns and image paths relative to the root;
3. the original release (UCSD-AI4H/PathVQA): ``qas/{train,val,test}/<split>_qa.{json,jsonl,csv}``
   with ``image`` (a file stem such as ``train_0422``), ``question``, ``answer``, and images in
   ``images/<split>/<stem>.jpg``. The release ships the QA as ``.pkl``, which is never unpickled:
   convert it once to JSON (the error message gives the one-liner).

No answer types are published: yes/no answers are ``closed``, the rest ``open``.
Ids are ``<split>-<row index>``.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pefomed.data.context import LoadContext
from pefomed.data.generic import Fields, ImageResolver, rows_to_records, split_files
from pefomed.data.record import VQARecord
from pefomed.data.registry import register_dataset
from pefomed.data.sources import (
    Row, hf_disk_rows, is_hf_saved, parquet_rows, split_aliases, table_rows,
)
from pefomed.errors import PefomedError, did_you_mean

SPLITS: tuple[str, ...] = ("train", "validation", "test")
_ORIGINAL = {"train": "train", "validation": "val", "test": "test"}


@register_dataset(
    "pathvqa",
    description="PathVQA pathology VQA (He et al. 2020): Hugging Face parquet/saved layout or the "
                "original qas/ release converted to JSON; yes/no answers are closed",
    splits=SPLITS,
    root_dir="pathvqa",
)
def load_pathvqa(ctx: LoadContext) -> list[VQARecord]:
    """Records of ``ctx.split`` from the PathVQA copy at ``ctx.root``."""
    if ctx.split not in SPLITS:
        raise PefomedError(did_you_mean(ctx.split, SPLITS, "PathVQA split"))
    root = Path(ctx.root)
    if (root / "pvqa").is_dir() and not _has_layout(root, ctx.split):
        root = root / "pvqa"
    rows, images = _locate(root, ctx)
    return rows_to_records(rows, ctx, Fields(), images, id_prefix=f"{ctx.split}-", index_ids=True)


def _has_layout(root: Path, split: str) -> bool:
    return is_hf_saved(root) or bool(split_files(root, split)) or (root / "qas").is_dir()


def _locate(root: Path, ctx: LoadContext) -> tuple[Iterable[Row], ImageResolver]:
    split = ctx.split
    if is_hf_saved(root):
        return hf_disk_rows(root, split, split_aliases(split)), ImageResolver(root, ctx)
    files = split_files(root, split)
    if files:
        rows = parquet_rows(files) if files[0].suffix == ".parquet" else table_rows(files[0], ctx)
        return rows, ImageResolver(root, ctx)
    name = _ORIGINAL[split]
    qas = root / "qas" / name
    for suffix in (".json", ".jsonl", ".csv"):
        path = qas / f"{name}_qa{suffix}"
        if path.is_file():
            images = ImageResolver(root / "images" / name, ctx, rename=_with_jpg)
            return table_rows(path, ctx), images
    pkl = qas / f"{name}_qa.pkl"
    if pkl.is_file():
        raise PefomedError(
            f"{pkl}: PathVQA QA pickles are never unpickled (they can run code); convert once, in "
            f"a trusted environment: python -c \"import pickle,json; json.dump(pickle.load(open("
            f"'{pkl}','rb')), open('{qas / f'{name}_qa.json'}','w'))\""
        )
    raise PefomedError(
        f"{root}: no PathVQA data for split {split!r}; expected data/{split}-*.parquet (Hugging "
        f"Face), a save_to_disk folder, or qas/{name}/{name}_qa.json with images/{name}/"
    )


def _with_jpg(ref: str) -> str:
    return ref if Path(ref).suffix else f"{ref}.jpg"
