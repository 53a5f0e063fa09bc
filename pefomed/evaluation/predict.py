"""Run a model over Med-VQA records or bare questions: batched greedy answers, one :class:`Prediction` each.

Records (:class:`~pefomed.data.VQARecord`) carry reference answers; questions without one
(:class:`~pefomed.evaluation.questions.Question`, ``(image, question)`` pairs or dicts) get
predictions whose ``reference`` and ``answer_type`` are empty.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pefomed.data.images import open_image
from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError
from pefomed.evaluation.prediction import Prediction
from pefomed.evaluation.questions import Question, as_question  # noqa: F401  (Question: in docs)

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


def predict(model: Any, records: Sequence[Any], *, batch_size: int = 16, max_new_tokens: int = 8,
            progress: bool = False) -> list[Prediction]:
    """Answer every record or question with ``model`` (greedy), in order.

    ``records`` may mix :class:`VQARecord`, :class:`Question`, ``(image, question)`` pairs and
    ``{"image": ..., "question": ...}`` dicts (an image is a path or a PIL image).

    The model runs in eval mode under ``torch.no_grad()``; every module's train/eval mode is
    restored afterwards (a frozen tower kept in eval mode during training stays so).
    """
    import torch

    bundle = resolve_bundle(model)
    _check(batch_size, max_new_tokens)
    records = [as_question(r, i) for i, r in enumerate(records)]
    out: list[Prediction] = []
    with _train_mode_restored(bundle.model), torch.no_grad(), _progress(progress, len(records)) as advance:
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            answers = _answer(bundle, batch, max_new_tokens)
            if len(answers) != len(batch):
                raise RuntimeError(f"family {bundle.family.name!r} returned {len(answers)} answers "
                                   f"for a batch of {len(batch)}")
            out.extend(_prediction(r, str(a)) for r, a in zip(batch, answers))
            advance(len(batch))
    return out


def _prediction(item: Any, answer: str) -> Prediction:
    if isinstance(item, VQARecord):
        return Prediction.for_record(item, answer)
    return Prediction(id=item.id, question=item.question, reference="", prediction=answer, answer_type="")


def _answer(bundle: "ModelBundle", batch: list[Any], max_new_tokens: int) -> list[str]:
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
