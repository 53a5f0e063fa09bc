"""What a loader is given, and how it reports bad records (raise, or skip and count).

Every bad record goes through :meth:`LoadContext.bad`, so the message format and the
``on_bad_record`` policy live in one place: one line naming the file, the record (index and id),
what is wrong and how to fix it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pefomed.errors import PefomedError

BAD_RECORD_POLICIES: tuple[str, ...] = ("error", "skip")
#: How many skip reasons a Split keeps (the count is always exact).
MAX_REASONS = 20
_SKIP_HINT = "or pass on_bad_record='skip' to skip such records"


@dataclass(frozen=True)
class Where:
    """A record's location, for messages: the file it came from, its index there, its id."""

    file: Path | str
    index: int
    id: str | None = None
    unit: str = "record"  # "line" for JSONL/CSV, where the index is a line number

    def __str__(self) -> str:
        ident = f" (id {self.id!r})" if self.id not in (None, "") else ""
        return f"{self.file}: {self.unit} {self.index}{ident}"


@dataclass
class LoadContext:
    """Per-call state handed to a loader: the request, the bad-record policy, the tallies."""

    dataset: str
    split: str
    root: Path | None = None
    seed: int = 0
    limit: int | None = None
    on_bad_record: str = "error"
    validate_images: bool = False
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    #: skipped records by kind of problem (``{"empty answer": 1}``)
    skip_counts: dict[str, int] = field(default_factory=dict)
    _ids: dict[str, Where] = field(default_factory=dict, repr=False)
    _checked: dict[Path, str | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.on_bad_record not in BAD_RECORD_POLICIES:
            raise PefomedError(
                f"on_bad_record must be one of {', '.join(BAD_RECORD_POLICIES)}, "
                f"but got {self.on_bad_record!r}"
            )

    def bad(self, where: Where, what: str, fix: str) -> None:
        """Report a bad record: raise (policy "error") or count it and keep the reason ("skip")."""
        message = _one_line(f"{where}: {what}")
        if self.on_bad_record == "error":
            raise PefomedError(f"{message}; {_one_line(fix)} ({_SKIP_HINT})")
        self.skipped += 1
        kind = _kind(what)
        self.skip_counts[kind] = self.skip_counts.get(kind, 0) + 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(message)

    def claim_id(self, record_id: str, where: Where) -> bool:
        """False (and reported) when ``record_id`` was already used in this split."""
        first = self._ids.get(record_id)
        if first is not None:
            self.bad(where, f"duplicate id {record_id!r} (first seen at {first})",
                     "make ids unique or drop the id field so ids are derived from content")
            return False
        self._ids[record_id] = where
        return True

    def image_path(self, image_root: Path, ref: object, where: Where) -> Path | None:
        """Resolve an image reference inside ``image_root``; None (reported) when it is bad.

        Rejects references that escape the root (``../..``, absolute paths elsewhere) and files
        that do not exist; with ``validate_images`` also files PIL cannot read.
        """
        if not isinstance(ref, str) or not ref.strip():
            self.bad(where, f"image reference must be a non-empty path, but got {ref!r}",
                     "give the image file name relative to the dataset root")
            return None
        root = Path(os.path.abspath(image_root))
        # Backslashes: annotation files written on Windows.
        path = Path(os.path.normpath(root / Path(ref.strip().replace("\\", "/")).expanduser()))
        if path != root and root not in path.parents:
            self.bad(where, f"image path {ref!r} escapes the dataset root {root}",
                     "keep image paths inside the dataset root, or pass root= to widen it")
            return None
        # Then the real location: a symlink under the root (to a file or a folder) may point out of it.
        real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
        if real != real_root and real_root not in real.parents:
            self.bad(where, f"image path {ref!r} escapes the dataset root {root} through a symlink "
                            f"(it resolves to {real})",
                     "copy the file into the dataset root, or pass root= to a folder that holds both")
            return None
        if not path.is_file():
            self.bad(where, f"image {ref!r} not found (looked for {path})",
                     "restore the file or fix the image path")
            return None
        if self.validate_images:
            problem = self._checked.get(path, "")
            if problem == "":
                problem = self._checked[path] = unreadable_reason(path)
            if problem is not None:
                self.bad(where, f"image {path} is unreadable ({problem})",
                         "replace the file with a valid image")
                return None
        return path


def unreadable_reason(source: object) -> str | None:
    """None when PIL can open and decode ``source`` (a path or a file object), else why not."""
    try:
        with Image.open(source) as im:  # type: ignore[arg-type]
            im.load()
    except Exception as exc:  # PIL raises many types for bad files; all mean "unreadable"
        return f"{type(exc).__name__}: {exc}"
    return None


def _kind(what: str) -> str:
    """The problem without its particulars: ``"image 'a.jpg' not found (looked ...)"`` -> ``"image not found"``."""
    import re

    text = re.sub(r"\s*\(.*\)", "", _one_line(what))
    text = re.sub(r"'[^']*'|\S*/\S*", "", text)
    return " ".join(text.split()) or "bad record"


def _one_line(text: str) -> str:
    return " ".join(text.split())
