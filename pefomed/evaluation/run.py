"""One call from a model and records to scores on disk: predict, score, write."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pefomed.data.record import VQARecord
from pefomed.evaluation.io import METRICS_FILE, PREDICTIONS_FILE, write_metrics, write_predictions
from pefomed.evaluation.predict import predict
from pefomed.evaluation.result import EvalResult
from pefomed.evaluation.protocols import TrainAnswers
from pefomed.evaluation.scoring import score_predictions
from pefomed.errors import PefomedError


def evaluate(model: Any, records: Sequence[VQARecord], *, out_dir: str | Path | None = None,
             protocols: Iterable[str] | str | None = None, batch_size: int = 16, max_new_tokens: int = 8,
             bootstrap: int = 1000, seed: int = 0, progress: bool = False,
             train_answers: TrainAnswers | None = None) -> EvalResult:
    """Predict on ``records``, score, and (with ``out_dir``) write predictions.jsonl + metrics.json.

    Predictions are written before scoring, so a run that fails to score can be rescored
    from its predictions file. ``train_answers`` feeds the answer-list protocols (``mevf-*``).
    """
    from pefomed.evaluation.protocols import prepare_all, resolve_protocols

    records = _check_records(records)
    # reject a bad protocol name or a missing answer list before the (slow) predictions
    prepare_all(resolve_protocols(protocols), train_answers)
    predictions = predict(model, records, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          progress=progress)
    if out_dir is not None:
        write_predictions(Path(out_dir) / PREDICTIONS_FILE, predictions)
    result = score_predictions(predictions, protocols=protocols, bootstrap=bootstrap, seed=seed,
                               train_answers=train_answers)
    if out_dir is not None:
        write_metrics(Path(out_dir) / METRICS_FILE, result)
    return result


def _check_records(records: Any) -> list[VQARecord]:
    """A non-empty list of VQARecord, or a one-line PefomedError: no metric means anything on 0 records."""
    if isinstance(records, (str, bytes)) or not isinstance(records, Iterable):
        raise PefomedError(f"evaluate needs a list of VQARecord (or a Split), but got {type(records).__name__} "
                           f"{records!r:.60}; load them with pefomed.load_dataset(name, split)")
    records = list(records)
    if not records:
        raise PefomedError("evaluate got 0 records, so no metric can be computed; check the dataset, split "
                           "and limit (an empty split, or a filter that removed everything)")
    bad = next((i for i, r in enumerate(records) if not isinstance(r, VQARecord)), None)
    if bad is not None:
        raise PefomedError(f"evaluate needs VQARecord items, but item {bad} is {type(records[bad]).__name__} "
                           f"{records[bad]!r:.60}; load records with pefomed.load_dataset(name, split)")
    return records
