"""Predictions (JSONL) and metrics (JSON) on disk; every write is atomic (temp file + rename)."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from pefomed.errors import PefomedError
from pefomed.evaluation.prediction import Prediction
from pefomed.evaluation.result import EvalResult
from pefomed.evaluation.scoring import score_predictions

PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"


def atomic_write(path: str | Path, chunks: Iterable[str]) -> Path:
    """Write the text ``chunks`` to ``path`` so that readers see the old file or the whole new one.

    ``chunks`` may be a lazy generator: if producing a chunk raises, the temp file is removed,
    ``path`` is left as it was, and the error propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_predictions(path: str | Path, predictions: Sequence[Prediction]) -> Path:
    """One JSON object per line, in order (ASCII-escaped: model output can be any text)."""
    return atomic_write(path, (json.dumps(p.to_dict(), allow_nan=False) + "\n" for p in predictions))


def read_predictions(path: str | Path) -> list[Prediction]:
    """The predictions written by :func:`write_predictions` (blank lines are ignored)."""
    path = _existing(path, "predictions file")
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PefomedError(f"{where}: not valid JSON ({exc.msg}); the file is damaged, "
                                   "re-run the prediction") from None
            out.append(Prediction.from_dict(data, where=where))
    return out


def write_metrics(path: str | Path, result: EvalResult) -> Path:
    """The result as indented JSON."""
    return atomic_write(path, [json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"])


def read_metrics(path: str | Path) -> EvalResult:
    """The :class:`EvalResult` written by :func:`write_metrics`."""
    path = _existing(path, "metrics file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PefomedError(f"{path}: not valid JSON ({exc.msg}); rescore the predictions") from None
    return EvalResult.from_dict(data, where=str(path))


def rescore(predictions_jsonl: str | Path, *, protocols: Iterable[str] | str | None = None,
            bootstrap: int = 1000, seed: int = 0,
            train_answers: Sequence[tuple[str, str]] | None = None) -> EvalResult:
    """Score a predictions file alone (it carries references and answer types); ``train_answers``
    only for the answer-list protocols (``mevf-*``)."""
    return score_predictions(read_predictions(predictions_jsonl), protocols=protocols,
                             bootstrap=bootstrap, seed=seed, train_answers=train_answers)


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise PefomedError(f"no {what} at {path}; check the path (evaluate(..., out_dir=...) writes one)")
    return path

