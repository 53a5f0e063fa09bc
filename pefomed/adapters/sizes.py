"""Size settings checked against the model's own shapes before anything is allocated.

A rank of 10^9 (``--set r=1000000000``) passes every type rule but would try to allocate
hundreds of GB. The bounds come from the model: a rank cannot usefully exceed the widest
Linear layer it adapts (a ``d_out x d_in`` update has rank at most ``min(d_out, d_in)``; we allow
up to the larger of the two, so nothing that works today is refused), and virtual tokens cannot
exceed the language model's positions. The method's catalogue default is always allowed.
"""
from __future__ import annotations

from typing import Any

from pefomed.adapters.handle import Request
from pefomed.adapters.targets import is_linear, modules_in_parts
from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle


def check_sizes(bundle: ModelBundle, entry: Any, request: Request) -> None:
    """Raise one line per the first size setting of ``entry`` that exceeds its model-derived bound."""
    bounded = {k: p.bound for k, p in (entry.params or {}).items() if getattr(p, "bound", "")}
    for key, kind in bounded.items():
        value = request.settings.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        limit, what = (_width(bundle, request) if kind == "width" else _positions(bundle))
        default = (entry.defaults or {}).get(key)
        if limit is not None and isinstance(default, int) and default > limit:
            # the catalogue's own default always works (VeRA's shared r=256 on a small model)
            limit, what = default, f"{what} is {limit}, the catalogue default {default} is allowed"
        if limit is not None and value > limit:
            raise PefomedError(
                f"{entry.name} setting {key}={value} is too large for {bundle.name}: the rule is "
                f"{key} <= {limit} ({what}); choose {key} <= {limit}"
            )


def _width(bundle: ModelBundle, request: Request) -> tuple[int | None, str]:
    widths = [max(int(m.in_features), int(m.out_features)) for _, m in modules_in_parts(bundle, request.parts)
              if is_linear(m) and hasattr(m, "in_features")]
    return (max(widths), f"the widest Linear layer in the {'/'.join(request.parts)} part(s)") if widths \
        else (None, "")


def _positions(bundle: ModelBundle) -> tuple[int | None, str]:
    config = getattr(bundle.model, "config", None)
    for cfg in (getattr(config, "text_config", None), config):
        n = getattr(cfg, "max_position_embeddings", None)
        if isinstance(n, int) and n > 0:
            return n, "the language model's max_position_embeddings"
    return None, ""
