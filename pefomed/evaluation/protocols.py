"""Named scoring protocols: a per-item metric applied to a subset of questions, then averaged.

Numbers in Med-VQA papers differ as much by protocol as by model; every reported value carries
the protocol name, and each protocol says exactly what it scores and on which questions.

pefomed's own protocols (:data:`DEFAULT_PROTOCOLS`) are robust to answer formatting but are
nobody else's numbers. A *family* (:data:`FAMILIES`: ``llava-med``, ``pefomed-paper``, ``vqa``,
``mevf``) groups the protocols that re-implement one published scorer exactly; naming the family
in ``resolve_protocols`` (or ``pefomed eval --protocols``) selects all its members.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pefomed.errors import PefomedError, UnknownNameError, did_you_mean
from pefomed.evaluation import metrics
from pefomed.registry import Registry

if TYPE_CHECKING:
    from pefomed.evaluation.prediction import Prediction

Subset = Literal["closed", "open", "all"]
SUBSETS: tuple[str, ...] = ("closed", "open", "all")
#: Training answers as ``(answer, answer_type)`` pairs, in file order (MEVF's answer classes,
#: LLaVA-Med's open-answer candidates).
TrainAnswers = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Protocol:
    """``metric(prediction, reference) -> [0, 1]`` averaged over the questions in ``subset``.

    ``metric`` may return None to leave a question out of the denominator (a peer that does so).
    ``keep`` narrows the subset further by question metadata. A protocol with ``prepare`` needs
    the training answers: ``prepare(train_answers)`` is passed to ``metric`` as a third argument.
    ``family`` and ``label`` tie a peer-exact protocol to its family and the line the peer prints.
    """

    name: str
    description: str
    subset: Subset
    metric: Callable[..., float | None]
    family: str = ""
    label: str = ""
    keep: Callable[["Prediction"], bool] | None = None
    prepare: Callable[[TrainAnswers], Any] | None = None

    def __post_init__(self) -> None:
        if self.subset not in SUBSETS:
            raise PefomedError(
                f"protocol {self.name!r}: subset must be one of {', '.join(SUBSETS)}, but got {self.subset!r}"
            )

    def applies(self, answer_type: str) -> bool:
        """Whether a question with this answer type is scored by the protocol."""
        return self.subset == "all" or answer_type == self.subset

    def selects(self, prediction: "Prediction") -> bool:
        """Whether the protocol scores this question (answer type, then ``keep``)."""
        return self.applies(prediction.answer_type) and (self.keep is None or self.keep(prediction))


@dataclass(frozen=True)
class Family:
    """The protocols that reproduce one published scorer, and how that scorer prints a value.

    ``source`` is ``owner/repo@commit:path``; ``format_value(total, n)`` renders the mean of
    ``n`` item scores summing to ``total`` exactly as the peer's script prints it; ``headline``
    are the members the paper reports (what breakdown tables show).
    """

    name: str
    description: str
    source: str
    members: tuple[str, ...]
    format_value: Callable[[float, int], str]
    headline: tuple[str, ...] = ()


PROTOCOLS: Registry[Protocol] = Registry("evaluation protocol")
FAMILIES: Registry[Family] = Registry("protocol family")

#: Reporting order of the built-in protocols (``score`` computes these when none are named).
DEFAULT_PROTOCOLS: tuple[str, ...] = (
    "closed-lenient", "closed-exact", "open-exact", "open-recall", "overall-exact", "token-f1",
    "bleu-1", "llava-med-closed",
)


def register_protocol(name: str, description: str, subset: Subset,
                      metric: Callable[..., float | None], **options: Any) -> Protocol:
    """Add a protocol to :data:`PROTOCOLS` (names are unique); ``options``: Protocol fields."""
    return PROTOCOLS.add(name, Protocol(name, description, subset, metric, **options))


def register_family(name: str, description: str, source: str, members: Iterable[str],
                    format_value: Callable[[float, int], str], headline: Iterable[str] = ()) -> Family:
    """Add a family of already registered protocols to :data:`FAMILIES`."""
    members, headline = tuple(members), tuple(headline)
    unknown = [m for m in members + headline if m not in PROTOCOLS]
    if unknown or name in PROTOCOLS:
        raise PefomedError(f"family {name!r}: members {unknown} are not protocols (register them first) "
                           "or the name is taken by a protocol")
    return FAMILIES.add(name, Family(name, description, source, members, format_value, headline))


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; unknown names get "did you mean"."""
    return PROTOCOLS.get(name)


def list_protocols() -> list[str]:
    """Built-in protocols in reporting order, then any registered later (family order, then sorted)."""
    in_families = [m for f in FAMILIES.names() for m in FAMILIES.get(f).members]
    rest = sorted(set(PROTOCOLS.names()) - set(DEFAULT_PROTOCOLS) - set(in_families))
    ordered = [n for n in DEFAULT_PROTOCOLS if n in PROTOCOLS] + in_families + rest
    return list(dict.fromkeys(ordered))


def resolve_protocols(names: Iterable[str] | str | None) -> list[Protocol]:
    """Protocols for ``names`` (None: the defaults; a family name: its members), unknown names
    reported all at once."""
    if names is None:
        names = DEFAULT_PROTOCOLS
    elif isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise PefomedError("protocols is empty; name at least one of "
                           + ", ".join(FAMILIES.names() + list_protocols()))
    unknown = [n for n in names if n not in PROTOCOLS and n not in FAMILIES]
    if unknown:
        choices = PROTOCOLS.names() + FAMILIES.names()
        raise UnknownNameError("; ".join(did_you_mean(n, choices, "evaluation protocol or family")
                                         for n in unknown))
    expanded = [m for n in names for m in (FAMILIES.get(n).members if n in FAMILIES else (n,))]
    return [PROTOCOLS.get(n) for n in dict.fromkeys(expanded)]


def prepare_all(protocols: Sequence[Protocol], train_answers: TrainAnswers | None) -> dict[str, Any]:
    """``prepare(train_answers)`` of each protocol that needs it; a clear error when they are missing."""
    needing = [p.name for p in protocols if p.prepare is not None]
    if needing and train_answers is None:
        raise PefomedError(f"protocols {', '.join(needing)} need the training answers: pass "
                           "train_answers=[(answer, answer_type), ...] (pefomed eval loads the train split)")
    return {p.name: p.prepare(train_answers) for p in protocols if p.prepare is not None}


register_protocol(
    "closed-lenient",
    "closed questions: exact match after pefomed's normalisation; a yes/no reference also accepts "
    "a prediction that starts with that word and never says the other ('yes, there is' for 'yes', "
    "not 'yes or no'); pefomed's own, lenient, not any paper's",
    "closed", metrics.closed_match,
)
register_protocol(
    "closed-exact", "closed questions: exact match after pefomed's normalisation", "closed",
    metrics.exact_match,
)
register_protocol(
    "open-exact", "open questions: exact match after pefomed's normalisation", "open", metrics.exact_match,
)
register_protocol(
    "open-recall",
    "open questions: fraction of reference tokens present in the prediction, each counted once "
    "(pefomed's; LLaVA-Med's differs: llava-med-recall)",
    "open", metrics.token_recall,
)
register_protocol(
    "overall-exact", "all questions: exact match after pefomed's normalisation (no yes/no leniency)",
    "all", metrics.exact_match,
)
register_protocol(
    "token-f1", "all questions: SQuAD token F1 (clipped overlap) after pefomed's normalisation",
    "all", metrics.token_f1,
)
register_protocol(
    "bleu-1", "all questions: sentence BLEU-1 (clipped unigram precision x brevity penalty) on "
    "pefomed's tokens", "all", metrics.bleu1,
)

from pefomed.evaluation import peers as _peers  # noqa: E402,F401  registers the peer families
