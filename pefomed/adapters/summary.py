"""Plain-data views of adapters for the CLI and reports: one adapted model, and a support matrix."""
from __future__ import annotations

from typing import Any

from pefomed.adapters.catalogue import get_adapter, list_adapters
from pefomed.adapters.handle import AdaptedModel
from pefomed.adapters.inject import check_supported, make_request
from pefomed.errors import PefomedError
from pefomed.models.base import PARTS, ModelBundle

#: the matrix asks each method about each part with its widest layer choice
MATRIX_LAYERS = "all-linear"


def summarize(adapted: AdaptedModel) -> dict[str, Any]:
    """What was adapted and what it costs: touched modules, trainable parameters, adapter size."""
    trainable = adapted.trainable_parameters()
    total = adapted.total_parameters()
    return {
        "model": adapted.bundle.name,
        "family": adapted.bundle.family.name,
        "method": adapted.method,
        "parts": list(adapted.parts),
        "layers": adapted.layers,
        "settings": adapted.settings,
        "train_projector": adapted.train_projector,
        "touched_modules": adapted.touched_modules(),
        "trainable_parameters": trainable,
        "trainable_by_part": adapted.trainable_by_part(),
        "total_parameters": total,
        "trainable_percent": 100.0 * trainable / total if total else 0.0,
        "adapter_bytes": adapted.adapter_bytes(),
        "mergeable": adapted.mergeable,
        "vision_trainable": adapted.vision_trainable,
    }


def support_matrix(bundle: ModelBundle) -> dict[str, dict[str, str | None]]:
    """method -> part -> None if it can be injected there, else the one-line refusal.

    Nothing is injected: the up-front checks of :func:`inject` run, then each method resolves
    its targets without changing the model.
    """
    matrix: dict[str, dict[str, str | None]] = {}
    for name in list_adapters():
        entry = get_adapter(name)
        layers = MATRIX_LAYERS if entry.uses_layers else "attention"
        row: dict[str, str | None] = {}
        for part in PARTS:
            try:
                request = make_request(entry, (part,), layers, None, False)
                check_supported(bundle, entry, request)
                entry.dry_run(bundle, request)
                row[part] = None
            except PefomedError as exc:
                row[part] = str(exc)
        matrix[name] = row
    return matrix
