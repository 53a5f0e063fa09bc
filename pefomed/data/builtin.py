"""Registers the built-in datasets (imported by the registry on first use)."""
from __future__ import annotations

from pefomed.data import pathvqa, slake, vqa_rad  # noqa: F401  (register on import)
from pefomed.data.context import LoadContext
from pefomed.data.record import VQARecord
from pefomed.data.registry import register_dataset
from pefomed.errors import PefomedError, did_you_mean

SYNTH_SPLITS: tuple[str, ...] = ("train", "validation", "test")


@register_dataset(
    "synth-rad",
    description="Synthetic radiology-like VQA generated in memory (no download); train, "
                "validation and test are disjoint; seed= also seeds the generator",
    needs_root=False,
    applies_limit=True,
)
def load_synth_rad(ctx: LoadContext, *, image_size: int = 64) -> list[VQARecord]:
    """``synth_rad_records(split, n=limit, seed=seed, image_size=...)`` (imported on call)."""
    from pefomed.data.synth_rad import synth_rad_records  # lazy: written separately, heavier

    if ctx.split not in SYNTH_SPLITS:
        raise PefomedError(did_you_mean(ctx.split, SYNTH_SPLITS, "synth-rad split"))
    return synth_rad_records(ctx.split, n=ctx.limit, seed=ctx.seed, image_size=image_size)
