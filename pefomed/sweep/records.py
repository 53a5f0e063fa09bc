"""Trial records: the sweep's source of truth, one JSON object per line in ``trials.jsonl``.

Every report is a pure function of these records. A record is a plain JSON dict::

    {"schema": 1, "kind": "trial" | "final", "study": str, "trial": int,
     "status": "complete" | "failed" | "interrupted", "reason": str | None,
     "method": str, "config": {...}, "params": {...},
     "objectives": {"accuracy": {"protocol", "value"}, "cost": {"name", "value"}},
     "metrics": {protocol: {"value", "ci95", "n"}}, "split": str, "cost": {...}, "train": {...},
     "seed": int, "model": str, "dataset": {"name", "split", "fingerprint", "n"},
     "versions": {...}, "device": str, "host": str, "run_dir": str | None, ...}

``kind == "final"`` records hold the report-split scores of a frontier trial (no retraining).
The file is append-only: each line is written with one ``write`` on an ``O_APPEND`` descriptor
and fsynced, so concurrent workers on one machine never interleave lines and a kill loses at
most the line being written. A truncated line is skipped (and counted) when reading.
"""
from __future__ import annotations

import json
import math
import os
import platform
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError

RECORDS_FILE = "trials.jsonl"
SCHEMA = 1
KINDS = ("trial", "final")
STATUSES = ("complete", "failed", "interrupted")


def records_path(run_dir: str | Path) -> Path:
    """``<run_dir>/trials.jsonl``."""
    return Path(run_dir) / RECORDS_FILE


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as one line; flushed and fsynced before returning.

    If the file ends mid-line (a writer was killed), a newline goes first so the damaged line
    stays on its own and the new record is intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(path, size) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        return fh.read(1)


@dataclass
class RecordSet:
    """Records read from a file: the parsed ones and how many damaged lines were skipped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped_lines: int = 0

    def trials(self) -> list[dict[str, Any]]:
        """Trial records, one per (study, trial) (the last written wins), by trial number."""
        return _latest(r for r in self.records if r.get("kind") == "trial")

    def finals(self) -> list[dict[str, Any]]:
        """Report-split records of frontier trials, one per (study, trial)."""
        return _latest(r for r in self.records if r.get("kind") == "final")


def _latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    by_key: dict[tuple, dict[str, Any]] = {}
    for r in records:
        by_key[(r.get("study"), r.get("trial"))] = r
    return sorted(by_key.values(), key=lambda r: (str(r.get("study")), r.get("trial", -1)))


def read_records(path_or_dir: str | Path) -> RecordSet:
    """Parse ``trials.jsonl`` (or the one inside a run directory), skipping damaged lines."""
    path = Path(path_or_dir)
    if path.is_dir():
        path = records_path(path)
    if not path.is_file():
        raise PefomedError(
            f"no sweep records at {path}; give the run directory of a `pefomed sweep` run "
            f"(it holds {RECORDS_FILE})"
        )
    out = RecordSet()
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                if line.startswith(b"{"):  # a record torn by a killed writer: skipped and counted
                    out.skipped_lines += 1
                    continue
                _bad_line(path, number, line, f"not JSON ({getattr(exc, 'msg', None) or exc})")
            if isinstance(rec, dict) and rec.get("kind") in KINDS:
                out.records.append(rec)
            elif isinstance(rec, dict) and isinstance(rec.get("kind"), str):
                out.skipped_lines += 1  # a record kind a newer pefomed writes
            else:
                _bad_line(path, number, line, "not a sweep record (a JSON object with a 'kind')")
    return out


def _bad_line(path: Path, number: int, line: bytes, what: str) -> None:
    preview = line[:40].decode("utf-8", "replace")
    raise PefomedError(f"{path}: line {number} is {what}: {preview!r}; this is not a file `pefomed sweep` "
                       "wrote intact: delete or fix that line, or point at the right run directory")


def environment() -> dict[str, Any]:
    """Library versions, device and host, recorded with every trial."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for pkg in ("pefomed", "torch", "transformers", "peft", "optuna", "bitsandbytes"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {"versions": versions, "device": device_name(), "host": socket.gethostname()}


def device_name() -> str:
    """``cuda:0 NVIDIA H200`` or ``cpu (N threads) <processor>``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()} {torch.cuda.get_device_name()}"
    proc = platform.processor() or platform.machine()
    return f"cpu ({torch.get_num_threads()} threads) {proc}".strip()


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (records are strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def objective_values(record: dict[str, Any]) -> tuple[float, float] | None:
    """``(accuracy, cost)`` of a complete trial record, else None."""
    if record.get("status") != "complete":
        return None
    obj = record.get("objectives") or {}
    acc = (obj.get("accuracy") or {}).get("value")
    cost = (obj.get("cost") or {}).get("value")
    if acc is None or cost is None:
        return None
    return float(acc), float(cost)
