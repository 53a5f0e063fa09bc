"""Named scoring protocols: a per-item metric applied to a subset of questions, then averaged.

Numbers in Med-VQA papers differ as much by protocol as by model; every reported value carries
the protocol name, and each protocol says exactly what it scores and on which questions.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from pefomed.errors import PefomedError, UnknownNameError, did_you_mean
from pefomed.evaluation import metrics
from pefomed.registry import Registry

Subset = Literal["closed", "open", "all"]
SUBSETS: tuple[str, ...] = ("closed", "open", "all")


@dataclass(frozen=True)
class Protocol:
    """``metric(prediction, reference) -> [0, 1]`` averaged over the questions in ``subset``."""

    name: str
    description: str
    subset: Subset
    metric: Callable[[str, str], float]

    def __post_init__(self) -> None:
        if self.subset not in SUBSETS:
            raise PefomedError(
                f"protocol {self.name!r}: subset must be one of {', '.join(SUBSETS)}, but got {self.subset!r}"
            )

    def applies(self, answer_type: str) -> bool:
        """Whether a question with this answer type is scored by the protocol."""
        return self.subset == "all" or answer_type == self.subset


PROTOCOLS: Registry[Protocol] = Registry("evaluation protocol")

#: Reporting order of the built-in protocols (``score`` computes these when none are named).
DEFAULT_PROTOCOLS: tuple[str, ...] = (
    "closed-accuracy", "open-exact", "open-recall", "overall-exact", "token-f1", "bleu-1",
    "llava-med-closed",
)


def register_protocol(name: str, description: str, subset: Subset,
                      metric: Callable[[str, str], float]) -> Protocol:
    """Add a protocol to :data:`PROTOCOLS` (names are unique)."""
    return PROTOCOLS.add(name, Protocol(name, description, subset, metric))


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; unknown names get "did you mean"."""
    return PROTOCOLS.get(name)


def list_protocols() -> list[str]:
    """Built-in protocols in reporting order, then any registered later (sorted)."""
    extra = [n for n in PROTOCOLS.names() if n not in DEFAULT_PROTOCOLS]
    return [n for n in DEFAULT_PROTOCOLS if n in PROTOCOLS] + extra


def resolve_protocols(names: Iterable[str] | str | None) -> list[Protocol]:
    """Protocols for ``names`` (None: the defaults); every unknown name reported at once."""
    if names is None:
        names = DEFAULT_PROTOCOLS
    elif isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(names))
    if not names:
        raise PefomedError("protocols is empty; name at least one of " + ", ".join(list_protocols()))
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise UnknownNameError("; ".join(did_you_mean(n, PROTOCOLS.names(), "evaluation protocol")
                                         for n in unknown))
    return [PROTOCOLS.get(n) for n in names]


register_protocol(
    "closed-accuracy",
    "closed questions: exact match after normalisation; a yes/no reference also accepts a "
    "prediction that starts with that word ('yes, there is' for 'yes')",
    "closed", metrics.closed_match,
)
register_protocol(
    "open-exact", "open questions: exact match after normalisation", "open", metrics.exact_match,
)
register_protocol(
    "open-recall",
    "open questions: fraction of reference tokens present in the prediction (LLaVA-Med 'recall')",
    "open", metrics.token_recall,
)
register_protocol(
    "overall-exact", "all questions: exact match after normalisation (no yes/no leniency)",
    "all", metrics.exact_match,
)
register_protocol(
    "token-f1", "all questions: SQuAD token F1 after normalisation (as Med-PaLM M reports)",
    "all", metrics.token_f1,
)
register_protocol(
    "bleu-1", "all questions: sentence BLEU-1 (clipped unigram precision x brevity penalty)",
    "all", metrics.bleu1,
)
register_protocol(
    "llava-med-closed",
    "closed questions: prediction mentions yes/no and contains the reference as a substring "
    "(LLaVA-Med run_eval.py; misses count in the denominator)",
    "closed", metrics.reference_in_prediction,
)
