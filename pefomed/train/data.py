"""The data of one run: its train and eval splits, loaded with the spec's dataset options.

A dataset without splits (one file) is split by image with a seeded held-out part unless an
evaluation dataset is named; skipped records, the hold-out and any overlap between training and
evaluation records become *notes*, printed by the CLI and kept in ``run.json``. Scoring on the
training records is never silent: it is a note and a warning.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pefomed.data import Split
    from pefomed.train.recipe import RunSpec


@dataclass
class RunData:
    """A run's splits, with the hold-out record (or None) and the notes to show."""

    train: "Split"
    eval: "Split | None"
    holdout: dict | None = None
    overlap: int | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """``run.json``'s ``datasets``: each split's summary, the hold-out and the overlap."""
        return {"train": self.train.summary(), "eval": self.eval.summary() if self.eval is not None else None,
                "holdout": self.holdout, "overlap": self.overlap}


def dataset_kwargs(spec: "RunSpec") -> dict[str, Any]:
    """``load_dataset`` keyword arguments from the spec's dataset options."""
    kw: dict[str, Any] = {"root": spec.dataset_root, "seed": spec.seed, "on_bad_record": spec.on_bad_record}
    if spec.fields:
        kw["fields"] = dict(spec.fields)
    if spec.language:
        kw["language"] = spec.language
    return kw


def load_run_data(spec: "RunSpec", train_data: Any = None, eval_data: Any = None) -> RunData:
    """Load (or wrap the given) train and eval data of ``spec``; see the module docstring."""
    from pefomed.data import load_dataset
    from pefomed.data.holdout import has_splits, holdout, limited

    kw = dataset_kwargs(spec)
    info = None
    if train_data is not None:
        train = _given(spec, spec.train_split, train_data)
        test = _given(spec, spec.eval_split or "eval", eval_data) if eval_data is not None else None
        if test is None and spec.eval_split is not None:
            test = load_dataset(spec.eval_dataset or spec.dataset, spec.eval_split, limit=spec.eval_limit, **kw)
    elif spec.eval_split is not None and spec.eval_dataset is None and not has_splits(spec.dataset):
        whole = load_dataset(spec.dataset, spec.train_split, **kw)
        train, test, info = holdout(whole, spec.holdout_fraction, spec.seed)
        train, test = limited(train, spec.train_limit, spec.seed), limited(test, spec.eval_limit, spec.seed)
    else:
        train = load_dataset(spec.dataset, spec.train_split, limit=spec.train_limit, **kw)
        test = None
        if spec.eval_split is not None:
            test = load_dataset(spec.eval_dataset or spec.dataset, spec.eval_split, limit=spec.eval_limit, **kw)
    return _with_notes(RunData(train, test, holdout=info))


def load_run_eval(spec: "RunSpec", limit: int | None = None) -> "Split":
    """The evaluation split a run used (its held-out part for a dataset without splits)."""
    from dataclasses import replace

    data = load_run_data(replace(spec, eval_limit=limit or spec.eval_limit))
    if data.eval is None:
        from pefomed.errors import PefomedError

        raise PefomedError("the run was trained without evaluation data; give --dataset and --split")
    return data.eval


def _with_notes(data: RunData) -> RunData:
    from pefomed.data.holdout import overlap

    for split in (data.train, data.eval):
        note = split.skip_note() if split is not None else None
        if note and note not in data.notes:
            data.notes.append(note)
    if data.holdout is not None:
        h = data.holdout
        data.notes.append(f"{data.train.dataset} has no splits: {h['records']} records on {h['images']} of "
                          f"{h['of_images']} images held out for evaluation (seed {h['seed']}); "
                          "name an evaluation file with --eval-dataset to choose")
    if data.eval is not None:
        data.overlap = overlap(data.train, data.eval)
        data.notes += overlap_notes(data.train, data.eval)
    return data


def overlap_notes(train: "Split", test: "Split") -> list[str]:
    """What to say about eval records that training also had: loudly (and as a warning) when
    they all are, as a count when some are, nothing when none are."""
    from pefomed.data.holdout import overlap

    n, total = overlap(train, test), len(test.records)
    if total and (n == total or train.fingerprint == test.fingerprint):
        loud = (f"EVALUATING ON TRAINING RECORDS: all {total} evaluation records (same image and question) "
                "are also training records, so the scores measure memorisation; use a held-out split "
                "or --eval-dataset")
        warnings.warn(loud, stacklevel=3)
        return [loud]
    if n:
        return [f"{n} of {total} evaluation records ask a question that training also asks about the same image"]
    return []


def load_run_train(spec: "RunSpec") -> "Split":
    """The training records a run used (the held-in part for a dataset without splits)."""
    from dataclasses import replace

    from pefomed.data.holdout import has_splits

    if spec.eval_dataset is None and spec.eval_split is not None and not has_splits(spec.dataset):
        return load_run_data(spec).train
    return load_run_data(replace(spec, eval_split=None)).train


def _given(spec: "RunSpec", split: str, given: Any) -> "Split":
    from pefomed.data import Split

    if isinstance(given, Split):
        return given
    return Split(dataset=spec.dataset, split=split, records=list(given))
