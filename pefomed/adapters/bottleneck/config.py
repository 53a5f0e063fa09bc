"""Settings of a bottleneck adapter: preset (where adapters go), width, activation, init, dropout.

Defaults follow AdapterHub's ``adapters`` (src/adapters/configuration/adapter_config.py):

* ``DoubleSeqBnConfig`` (Houlsby et al. 2019, arXiv:1902.00751): ``mh_adapter=True``,
  ``output_adapter=True``, ``reduction_factor=16``, ``non_linearity="swish"``.
* ``SeqBnConfig`` (Pfeiffer et al. 2021, arXiv:2005.00247): ``mh_adapter=False``,
  ``output_adapter=True``, ``reduction_factor=16``, ``non_linearity="relu"``.
* Both: ``dropout=0.0``, no cross-attention adapters (``cross_adapter=False``), and a bottleneck
  width of ``max(1, d // reduction_factor)`` (``Adapter.__init__`` in methods/modeling.py).

The init differs on purpose: AdapterHub's ``"bert"``/``"houlsby"`` inits draw the up-projection
from a small normal (near-identity); ours zeroes it, as AdapterHub's ``"mam_adapter"`` init does,
so an adapted model is *exactly* the base model until the first update. The down-projection is
drawn like AdapterHub's ``init_weights="houlsby"``: truncated normal, std ``init_scale`` (1e-2),
cut at two standard deviations.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from pefomed.errors import PefomedError, did_you_mean

#: preset -> (adapter after attention output, adapter after FFN output, default activation)
PRESETS: dict[str, tuple[bool, bool, str]] = {
    "houlsby": (True, True, "swish"),
    "pfeiffer": (False, True, "relu"),
}
#: names accepted for ``non_linearity`` (AdapterHub's ``Activation_Function_Class`` names)
ACTIVATIONS: tuple[str, ...] = ("relu", "swish", "silu", "gelu", "gelu_new", "tanh", "leakyrelu")


@dataclass(frozen=True)
class BottleneckConfig:
    """Validated bottleneck-adapter settings; ``non_linearity=None`` means the preset's default.

    Every invalid field is reported at once, in one line.
    """

    preset: str = "houlsby"
    reduction_factor: int = 16
    non_linearity: str | None = None
    init_scale: float = 1e-2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        errors = []
        if self.preset not in PRESETS:
            errors.append(did_you_mean(str(self.preset), PRESETS, "bottleneck preset"))
        rf = self.reduction_factor
        if isinstance(rf, bool) or not isinstance(rf, int) or rf < 1:
            errors.append(f"reduction_factor must be an integer >= 1, but got {rf!r}")
        if self.non_linearity is not None and self.non_linearity not in ACTIVATIONS:
            errors.append(did_you_mean(str(self.non_linearity), ACTIVATIONS, "non_linearity"))
        if not _is_number(self.init_scale) or not (0 < self.init_scale and math.isfinite(self.init_scale)):
            errors.append(f"init_scale must be a finite number > 0, but got {self.init_scale!r}")
        if not _is_number(self.dropout) or not 0 <= self.dropout < 1:
            errors.append(f"dropout must satisfy 0 <= dropout < 1, but got {self.dropout!r}")
        if errors:
            raise PefomedError("invalid bottleneck settings: " + "; ".join(errors))
        if self.non_linearity is None:
            object.__setattr__(self, "non_linearity", PRESETS[self.preset][2])

    @property
    def after_attention(self) -> bool:
        """Adapter after each attention output projection (AdapterHub's ``mh_adapter``)."""
        return PRESETS[self.preset][0]

    @property
    def after_ffn(self) -> bool:
        """Adapter after each FFN output projection (AdapterHub's ``output_adapter``)."""
        return PRESETS[self.preset][1]

    def bottleneck_size(self, hidden: int) -> int:
        """Width of the bottleneck for a sublayer output of width ``hidden``."""
        return max(1, hidden // self.reduction_factor)

    def site_parameters(self, hidden: int) -> int:
        """Parameters of one adapter on a width-``hidden`` output: down (d*r + r) + up (r*d + d)."""
        r = self.bottleneck_size(hidden)
        return 2 * hidden * r + r + hidden

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BottleneckConfig":
        """Build from a dict (e.g. saved JSON); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PefomedError(
                f"unknown bottleneck setting(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**data)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
