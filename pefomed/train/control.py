"""How a long run is watched and kept: checkpoints, evaluation while training, logging."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from pefomed.errors import PefomedError
from pefomed.train.schema import option

REPORTERS: tuple[str, ...] = ("tensorboard", "wandb", "mlflow")


@dataclass(frozen=True)
class RunControl:
    """Checkpointing, evaluation while training, early stopping and experiment logging.

    A checkpoint is written every ``save_every`` optimizer steps, at the end of training, and when
    the run is interrupted (SIGINT/SIGTERM; even with ``save_every`` unset). With ``eval_every``
    the adapter is scored on ``val_split`` under ``metric`` and the best step's checkpoint is kept.
    """

    save_every: int | None = option(None, help="checkpoint every N optimizer steps (and at the end)")
    keep_last: int = option(2, help="checkpoints to keep besides the best")
    eval_every: int | None = option(None, help="score the validation split every N steps")
    val_split: str = option("validation", help="split scored while training (never the eval split)")
    val_limit: int | None = option(64, help="score a seeded subset of this many validation records")
    metric: str = option("closed-lenient", help="protocol that picks the best checkpoint")
    patience: int | None = option(None, help="early stopping: stop after N evaluations without improvement")
    report_to: tuple[str, ...] = option((), help=f"experiment loggers: {', '.join(REPORTERS)}")
    log_every: float = option(30.0, help="seconds between plain progress lines when stderr is not a terminal")

    def __post_init__(self) -> None:
        errors = []
        for name in ("save_every", "eval_every", "val_limit", "patience"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                errors.append(f"{name} must be an integer >= 1 or None, but got {value!r}")
        if isinstance(self.keep_last, bool) or not isinstance(self.keep_last, int) or self.keep_last < 1:
            errors.append(f"keep_last must be an integer >= 1, but got {self.keep_last!r}")
        if not isinstance(self.val_split, str) or not self.val_split:
            errors.append(f"val_split must be a split name, but got {self.val_split!r}")
        if not isinstance(self.metric, str) or not self.metric:
            errors.append(f"metric must be a protocol name, but got {self.metric!r}")
        if self.patience is not None and self.eval_every is None:
            errors.append("patience needs eval_every (early stopping counts evaluations); set eval_every")
        reporters = (self.report_to,) if isinstance(self.report_to, str) else tuple(self.report_to)
        bad = [r for r in reporters if r not in REPORTERS]
        if bad:
            errors.append(f"report_to must be a subset of {REPORTERS}, but got {list(bad)}")
        if isinstance(self.log_every, bool) or not isinstance(self.log_every, (int, float)) or \
                not math.isfinite(self.log_every) or self.log_every <= 0:
            errors.append(f"log_every > 0 must hold, but got log_every={self.log_every!r}")
        if errors:
            raise PefomedError(f"invalid RunControl: {'; '.join(errors)}")
        object.__setattr__(self, "report_to", reporters)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"report_to": list(self.report_to)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunControl":
        return cls(**data)
