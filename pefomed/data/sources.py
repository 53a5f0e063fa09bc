"""Read annotation rows from JSON, JSONL, CSV, Parquet and Hugging Face datasets.

Each reader yields ``(Where, row)`` pairs, ``row`` a dict of the source's own column names.
A file that cannot be parsed at all (malformed JSON, not UTF-8) is a file-level error; a single
bad line in JSONL/CSV is a bad record, subject to ``on_bad_record``. Pickle is never read.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pefomed.data.context import LoadContext, Where
from pefomed.errors import PefomedError

Row = tuple[Where, dict]
#: Annotation file formats by suffix.
TABLE_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".csv", ".parquet")
#: Other names of the validation split in published releases; ``load_dataset`` maps them to
#: ``validation`` and file lookups try them all.
VALIDATION_ALIASES: tuple[str, ...] = ("val", "valid", "validate", "dev")


def read_text(path: Path) -> str:
    """A UTF-8 text file's content, with a one-line error when it is missing or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PefomedError(f"{path}: file not found; check the path or pass root=") from None
    except UnicodeDecodeError as exc:
        raise PefomedError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           "re-save the file as UTF-8") from None


def read_json_list(path: Path) -> list:
    """A JSON file whose top level is a list; malformed JSON is reported with line and column."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise PefomedError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg}; fix the file (it must be a JSON list of objects)") from None
    if not isinstance(data, list):
        raise PefomedError(f"{path}: top level must be a JSON list of objects, but got "
                           f"{type(data).__name__}; wrap the records in [ ... ]")
    return data


def json_rows(path: Path, ctx: LoadContext) -> Iterator[Row]:
    """Rows of a JSON list file (index = position in the list, from 0)."""
    for i, row in enumerate(read_json_list(path)):
        where = Where(path, i)
        if isinstance(row, dict):
            yield where, row
        else:
            ctx.bad(where, f"must be a JSON object, but got {type(row).__name__}",
                    "make every list entry an object with question, answer and image fields")


def jsonl_rows(path: Path, ctx: LoadContext) -> Iterator[Row]:
    """Rows of a JSON-lines file (index = line number, from 1); blank lines are ignored."""
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = Where(path, lineno, unit="line")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            ctx.bad(where, f"malformed JSON at column {exc.colno}: {exc.msg}",
                    "fix the line (one JSON object per line)")
            continue
        if isinstance(row, dict):
            yield where, row
        else:
            ctx.bad(where, f"must be a JSON object, but got {type(row).__name__}",
                    "write one JSON object per line")


def csv_rows(path: Path, ctx: LoadContext) -> Iterator[Row]:
    """Rows of a CSV file with a header (index = line number; empty cells count as absent)."""
    reader = csv.DictReader(read_text(path).splitlines())
    for row in reader:
        where = Where(path, reader.line_num, unit="line")
        if None in row:  # more cells than header columns
            ctx.bad(where, f"has {len(row) - 1 + len(row[None])} cells but the header has "
                    f"{len(row) - 1}", "quote cells that contain commas")
            continue
        yield where, {k: v for k, v in row.items() if v not in (None, "")}


def parquet_rows(paths: Sequence[Path]) -> Iterator[Row]:
    """Rows of one or more Parquet shards, in order (index = row number across all shards)."""
    import pyarrow.parquet as pq  # lazy: comes with `datasets`

    offset = 0
    for path in paths:
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise PefomedError(f"{path}: unreadable Parquet ({flat(exc)}); "
                               "re-download or re-export the file") from None
        yield from _columns_rows(path, table.to_pydict(), offset)
        offset += table.num_rows


def table_rows(path: Path, ctx: LoadContext) -> Iterator[Row]:
    """Rows of one annotation file, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json_rows(path, ctx)
    if suffix == ".jsonl":
        return jsonl_rows(path, ctx)
    if suffix == ".csv":
        return csv_rows(path, ctx)
    if suffix == ".parquet":
        return parquet_rows([path])
    if suffix in (".pkl", ".pickle"):
        raise PefomedError(f"{path}: pickle files are never loaded (they can run code); convert "
                           "it to JSON once, in a trusted environment, and point to the .json")
    raise PefomedError(f"{path}: unsupported annotation format {suffix!r}; use one of "
                       f"{', '.join(TABLE_SUFFIXES)} or a Hugging Face dataset folder")


def is_hf_saved(folder: Path) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def hf_disk_rows(folder: Path, split: str, aliases: Sequence[str]) -> Iterator[Row]:
    """Rows of a saved Hugging Face dataset; a DatasetDict is indexed by split (or an alias)."""
    import datasets  # lazy: heavy import

    try:
        loaded = datasets.load_from_disk(str(folder))
    except Exception as exc:
        raise PefomedError(f"{folder}: not a readable saved Hugging Face dataset "
                           f"({flat(exc)}); re-save it with save_to_disk") from None
    if isinstance(loaded, datasets.DatasetDict):
        name = next((s for s in (split, *aliases) if s in loaded), None)
        if name is None:
            raise PefomedError(f"{folder}: no split {split!r}; it has {', '.join(loaded)}")
        loaded = loaded[name]
    return hf_dataset_rows(loaded, f"{folder}[{split}]")


def hf_hub_rows(hub_id: str, split: str) -> Iterator[Row]:
    """Rows of a Hugging Face hub dataset (needs the network unless it is cached)."""
    import datasets

    try:
        loaded = datasets.load_dataset(hub_id, split=split)
    except Exception as exc:
        raise PefomedError(
            f"could not load {hub_id!r} split {split!r} from the Hugging Face hub "
            f"({flat(exc)[:200]}); it is not a local file or folder either. "
            "Offline? Download it elsewhere, save_to_disk, and pass that folder"
        ) from None
    return hf_dataset_rows(loaded, f"hf:{hub_id}[{split}]")


def hf_dataset_rows(dataset: Any, label: str) -> Iterator[Row]:
    """Rows of an in-memory ``datasets.Dataset``; image columns come back undecoded (bytes)."""
    import datasets

    for name, feature in dataset.features.items():
        if isinstance(feature, datasets.Image) and feature.decode:
            dataset = dataset.cast_column(name, datasets.Image(decode=False))
    return _columns_rows(label, dataset.to_dict())


def canonical_split(split: str) -> str:
    """``validation`` for any of its aliases, else ``split`` unchanged."""
    return "validation" if split in VALIDATION_ALIASES else split


def split_aliases(split: str) -> tuple[str, ...]:
    """Other names the same split goes by in published releases (``validation`` = ``val`` ...)."""
    return VALIDATION_ALIASES if canonical_split(split) == "validation" else ()


def flat(exc: BaseException) -> str:
    """An exception as one line: ``Type: message``."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _columns_rows(source: Path | str, columns: dict[str, list], offset: int = 0) -> Iterator[Row]:
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    for i in range(n):
        yield Where(source, offset + i, unit="row"), {k: columns[k][i] for k in names}
