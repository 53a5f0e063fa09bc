"""Run a model over Med-VQA records: batched greedy answers, one :class:`Prediction` each."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pefomed.data.images import open_image
from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError
from pefomed.evaluation.prediction import Prediction

if TYPE_CHECKING:
    from pefomed.models.base import ModelBundle


def resolve_bundle(model: Any) -> "ModelBundle":
    """The :class:`ModelBundle` of a bundle or of an adapted model (anything with ``.bundle``)."""
    from pefomed.models.base import ModelBundle  # torch: imported only when a model runs

    if isinstance(model, ModelBundle):
        return model
    bundle = getattr(model, "bundle", None)
    if isinstance(bundle, ModelBundle):
        return bundle
    raise PefomedError(
        f"cannot evaluate a {type(model).__name__}: pass a ModelBundle (create_model(...)) "
        "or an adapted model with a .bundle (inject(...))"
    )


def predict(model: Any, records: Sequence[VQARecord], *, batch_size: int = 16, max_new_tokens: int = 8,
            progress: bool = False) -> list[Prediction]:
    """Answer every record with ``model`` (greedy), in record order.

    The model runs in eval mode under ``torch.no_grad()``; every module's train/eval mode is
    restored afterwards (a frozen tower kept in eval mode during training stays so).
    """
    import torch

    bundle = resolve_bundle(model)
    _check(batch_size, max_new_tokens)
    records = list(records)
    out: list[Prediction] = []
    with _train_mode_restored(bundle.model), torch.no_grad(), _progress(progress, len(records)) as advance:
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            answers = _answer(bundle, batch, max_new_tokens)
            if len(answers) != len(batch):
                raise RuntimeError(f"family {bundle.family.name!r} returned {len(answers)} answers "
                                   f"for a batch of {len(batch)}")
            out.extend(Prediction.for_record(r, str(a)) for r, a in zip(batch, answers))
            advance(len(batch))
    return out


def _answer(bundle: "ModelBundle", batch: list[VQARecord], max_new_tokens: int) -> list[str]:
    images = [open_image(r) for r in batch]
    questions = [r.question for r in batch]
    # classifier families (ViLT) implement generate() as argmax over their answer classes
    return bundle.family.generate(bundle, images, questions, max_new_tokens=max_new_tokens)


def _check(batch_size: int, max_new_tokens: int) -> None:
    problems = [f"{name} must be an integer >= 1, but got {value!r}"
                for name, value in (("batch_size", batch_size), ("max_new_tokens", max_new_tokens))
                if isinstance(value, bool) or not isinstance(value, int) or value < 1]
    if problems:
        raise PefomedError("; ".join(problems))


@contextlib.contextmanager
def _train_mode_restored(model: Any) -> Iterator[None]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("predict", total=total)
        yield lambda n: bar.advance(task, n)
