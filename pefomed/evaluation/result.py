"""The outcome of scoring: protocol values with bootstrap CIs, and per-group breakdowns."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pefomed.errors import PefomedError


@dataclass
class EvalResult:
    """Scores of one set of predictions, JSON-safe through :meth:`to_dict` / :meth:`from_dict`.

    ``metrics[protocol] = {"value": float | None, "ci95": [lo, hi] | None, "n": int}``: the mean
    per-item score over the protocol's subset, its percentile bootstrap 95% interval (None when
    ``bootstrap == 0`` or the subset is empty), and the subset size.

    ``breakdown[field][group] = {"n": int, "metrics": {protocol: {"value": float | None, "n": int}}}``
    for ``field`` in answer_type, question_type, organ, modality (only fields some item fills;
    items that leave it empty form the group ``"(unspecified)"``).
    """

    metrics: dict[str, dict[str, Any]]
    breakdown: dict[str, dict[str, dict[str, Any]]]
    n: int
    protocols: dict[str, str] = field(default_factory=dict)  # name -> description
    bootstrap: int = 0
    seed: int = 0

    def value(self, protocol: str) -> float | None:
        """The point value of ``protocol`` (None when its subset was empty)."""
        if protocol not in self.metrics:
            raise PefomedError(
                f"protocol {protocol!r} was not scored; scored: {', '.join(self.metrics) or 'none'}"
            )
        return self.metrics[protocol]["value"]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "bootstrap": self.bootstrap, "seed": self.seed,
                "protocols": dict(self.protocols), "metrics": self.metrics, "breakdown": self.breakdown}

    @classmethod
    def from_dict(cls, data: Any, where: str = "metrics") -> "EvalResult":
        """Inverse of :meth:`to_dict`; ``where`` names the source in error messages."""
        if not isinstance(data, dict):
            raise PefomedError(f"{where}: expected a JSON object, but got {type(data).__name__}")
        required = ("n", "metrics", "breakdown")
        missing = [k for k in required if k not in data]
        if missing:
            raise PefomedError(f"{where}: missing {', '.join(map(repr, missing))}; "
                               "rewrite it with EvalResult.to_dict() or rescore the predictions")
        problems = [f"{k!r} must be an object, got {type(data[k]).__name__}"
                    for k in ("metrics", "breakdown") if not isinstance(data[k], dict)]
        if not problems:
            problems = [f"metrics[{name!r}] lacks value/ci95/n" for name, m in data["metrics"].items()
                        if not isinstance(m, dict) or not {"value", "ci95", "n"} <= set(m)]
        if problems:
            raise PefomedError(f"{where}: {'; '.join(problems)}; rescore the predictions")
        return cls(metrics=data["metrics"], breakdown=data["breakdown"], n=int(data["n"]),
                   protocols=dict(data.get("protocols", {})), bootstrap=int(data.get("bootstrap", 0)),
                   seed=int(data.get("seed", 0)))


def clean_float(x: float | None) -> float | None:
    """A plain Python float (JSON-safe), None for missing; NaN is never produced."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"non-finite score {x}")
    return x
