"""Score predictions under named protocols, with seeded percentile-bootstrap 95% intervals."""
from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError
from pefomed.evaluation.prediction import Prediction
from pefomed.evaluation.protocols import Protocol, TrainAnswers, prepare_all, resolve_protocols
from pefomed.evaluation.result import EvalResult, clean_float

BREAKDOWN_FIELDS: tuple[str, ...] = ("answer_type", "question_type", "organ", "modality")
UNSPECIFIED = "(unspecified)"
# Resample indices are drawn in blocks of at most this many, bounding memory for big test sets.
_BLOCK_ITEMS = 4_000_000


def score(records: Sequence[VQARecord], predictions: Sequence[Prediction | str], *,
          protocols: Iterable[str] | str | None = None, bootstrap: int = 1000, seed: int = 0,
          train_answers: TrainAnswers | None = None) -> EvalResult:
    """Score ``predictions`` against ``records`` under each protocol (default: pefomed's own).

    ``predictions`` are :class:`Prediction` objects matched to records by id (every record
    needs exactly one), or plain answer strings aligned with ``records`` by position.
    ``train_answers`` (``(answer, answer_type)`` of the training split) is needed only by the
    protocols that use an answer list (``mevf-*``, ``llava-med-open-accuracy``).
    """
    return score_predictions(join(records, predictions), protocols=protocols,
                             bootstrap=bootstrap, seed=seed, train_answers=train_answers)


def score_predictions(predictions: Sequence[Prediction], *, protocols: Iterable[str] | str | None = None,
                      bootstrap: int = 1000, seed: int = 0,
                      train_answers: TrainAnswers | None = None) -> EvalResult:
    """Score self-contained predictions (each carries its reference and answer type).

    Each metric entry also holds ``total`` (the sum of item scores, so a peer's own rounding can
    be replayed) and, for closed protocols, ``majority``: the most common closed reference and
    what answering it to every question would score under that protocol.
    """
    protos = resolve_protocols(protocols)
    _check_bootstrap(bootstrap, seed)
    prepared = prepare_all(protos, train_answers)
    preds = list(predictions)
    table = {p.name: _item_scores(p, preds, prepared.get(p.name)) for p in protos}
    metrics = {}
    for p in protos:
        mask, scores = table[p.name]
        metrics[p.name] = _summary(scores[mask], bootstrap, seed, p.subset)
        if p.subset == "closed":
            metrics[p.name]["majority"] = majority_baseline(p, preds, prepared.get(p.name))
    return EvalResult(metrics=metrics, breakdown=_breakdown(preds, table), n=len(preds),
                      protocols={p.name: p.description for p in protos}, bootstrap=bootstrap, seed=seed)


def join(records: Sequence[VQARecord], predictions: Sequence[Prediction | str]) -> list[Prediction]:
    """Predictions in record order, metadata and references taken from the records."""
    records = list(records)
    predictions = list(predictions)
    ids = [r.id for r in records]
    dupes = sorted(i for i, c in Counter(ids).items() if c > 1)
    if dupes:
        raise PefomedError(f"record ids must be unique, but {len(dupes)} repeat (e.g. {dupes[:3]}); "
                           "fix the data loader")
    if all(isinstance(p, str) for p in predictions):
        if len(predictions) != len(records):
            raise PefomedError(f"got {len(predictions)} answer strings for {len(records)} records; "
                               "pass one answer per record, in record order")
        return [Prediction.for_record(r, p) for r, p in zip(records, predictions)]
    if not all(isinstance(p, Prediction) for p in predictions):
        raise PefomedError("predictions must be all Prediction objects or all strings, not a mix")
    by_id = {p.id: p.prediction for p in predictions}
    missing = [i for i in ids if i not in by_id]
    extra = sorted(set(by_id) - set(ids))
    if missing or extra or len(by_id) != len(predictions):
        raise PefomedError(
            f"predictions must match records one to one by id, but {len(missing)} records lack one "
            f"(e.g. {missing[:3]}), {len(extra)} are for unknown ids (e.g. {extra[:3]}) and "
            f"{len(predictions) - len(by_id)} repeat an id; predict on the same records you score"
        )
    return [Prediction.for_record(r, by_id[r.id]) for r in records]


def bootstrap_ci(scores: np.ndarray, *, resamples: int, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile 95% interval of the mean over ``resamples`` resamples with replacement."""
    n = len(scores)
    block = max(1, _BLOCK_ITEMS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = scores[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def _check_bootstrap(bootstrap: int, seed: int) -> None:
    problems = []
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        problems.append(f"bootstrap must be an integer >= 0 (0 turns intervals off), but got {bootstrap!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        problems.append(f"seed must be an integer >= 0, but got {seed!r}")
    if problems:
        raise PefomedError("; ".join(problems))


def majority_baseline(protocol: Protocol, preds: Sequence[Prediction], prepared: object = None) -> dict | None:
    """``{"answer", "value"}``: the protocol's score if every question it selects were answered
    with their most common reference (lower-cased; ties: alphabetical), None on an empty subset.

    The floor a closed accuracy must clear: on VQA-RAD test the majority closed answer is "no",
    which scores 48.9% under ``closed-lenient`` -- and 100% under ``llava-med-closed-e9972cf``,
    whose denominator drops every miss that mentions yes/no.
    """
    selected = [p for p in preds if protocol.selects(p)]
    if not selected:
        return None
    counts = Counter(p.reference.strip().lower() for p in selected)
    answer = min(counts, key=lambda a: (-counts[a], a))
    stand_in = [Prediction(**{**p.to_dict(), "prediction": answer}) for p in selected]
    mask, scores = _item_scores(protocol, stand_in, prepared)
    return {"answer": answer, "value": clean_float(_mean(scores[mask])) if mask.any() else None}


def _item_scores(protocol: Protocol, preds: Sequence[Prediction], prepared: object = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(scored mask, item scores): a question is scored when the protocol selects it and its
    metric does not return None."""
    mask = np.array([protocol.selects(p) for p in preds], dtype=bool)
    scores = np.zeros(len(preds))
    extra = () if protocol.prepare is None else (prepared,)
    for i in np.flatnonzero(mask):
        value = protocol.metric(preds[i].prediction, preds[i].reference, *extra)
        if value is None:
            mask[i] = False
        else:
            scores[i] = value
    return mask, scores


def _mean(scores: np.ndarray) -> float:
    # Python's left-to-right sum, as the peers' scripts compute their means
    return sum(scores.tolist()) / len(scores)


def _summary(scores: np.ndarray, bootstrap: int, seed: int, subset: str) -> dict:
    n = len(scores)
    if n == 0:
        return {"value": None, "ci95": None, "n": 0, "total": 0.0}
    total = sum(scores.tolist())
    value = total / n
    ci = None
    if bootstrap:
        # One stream per subset: protocols on the same questions share resamples (paired), and
        # a protocol's interval does not change when other protocols are added.
        rng = np.random.default_rng([seed, zlib.crc32(subset.encode())])
        lo, hi = bootstrap_ci(scores, resamples=bootstrap, rng=rng)
        # Float rounding can put an all-equal sample's interval an ulp off its own mean.
        ci = [clean_float(min(lo, value)), clean_float(max(hi, value))]
    return {"value": clean_float(value), "ci95": ci, "n": n, "total": clean_float(total)}


def _breakdown(preds: list[Prediction], table: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    out: dict[str, dict] = {}
    for name in BREAKDOWN_FIELDS:
        keys = [getattr(p, name) or UNSPECIFIED for p in preds]
        if all(k == UNSPECIFIED for k in keys):
            continue
        groups: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
        out[name] = {}
        for key in sorted(groups):
            idx = np.array(groups[key])
            cell = {}
            for proto, (mask, scores) in table.items():
                picked = scores[idx][mask[idx]]
                cell[proto] = {"value": clean_float(picked.mean()) if len(picked) else None,
                               "n": int(len(picked))}
            out[name][key] = {"n": len(idx), "metrics": cell}
    return out
