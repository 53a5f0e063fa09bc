"""The default trial runner: :func:`pefomed.train.recipe.run_finetune`, data loaded once per sweep.

One :class:`~pefomed.train.feature_cache.FeatureCache` is shared by every trial of the sweep,
so the frozen vision tower's features are computed once and reused by every trial that can
use them (nothing trainable in or before the vision tower).
"""
from __future__ import annotations

from typing import Any

from pefomed.sweep.objective import TrialContext, TrialOutcome
from pefomed.sweep.space import TrialConfig
from pefomed.sweep.spec import SweepSpec

#: the training loop's epoch cap, set so high that the per-trial budget is what stops training
EPOCHS_CAP = 10_000


def failure_reason(stop_reason: str, cost: dict[str, Any], budget: dict[str, Any]) -> str:
    """A one-line reason for a run the training loop declared failed."""
    if stop_reason == "max_memory_mb":
        return (f"memory cap exceeded: peak {cost.get('peak_memory_mb', 0):.0f} MB > "
                f"budget.max_memory_mb={budget.get('max_memory_mb')}")
    if stop_reason == "nan_loss":
        return "the training loss became NaN or infinite (learning rate too high?)"
    if stop_reason == "diverged":
        return ("training diverged: the loss exploded, or a trained weight became NaN/inf or left the "
                "numeric range (learning rate too high?)")
    return f"training stopped: {stop_reason}"


class RecipeRunner:
    """Calls ``run_finetune`` for each trial; :meth:`final` scores a saved trial on the report split."""

    def __init__(self, spec: SweepSpec) -> None:
        from pefomed.train import FeatureCache

        self.spec = spec
        self.feature_cache = FeatureCache()
        self._splits: dict[str, Any] = {}

    def split(self, which: str) -> Any:
        """The ``train``, ``search`` or ``report`` split, loaded once (seeded subset if limited)."""
        if which not in self._splits:
            from pefomed.data import load_dataset
            from pefomed.data.holdout import has_splits

            d = self.spec.dataset
            if not has_splits(d.name):
                self._hold_out()
                return self._splits[which]
            name, limit = {"train": (d.train_split, d.train_limit), "search": (d.search_split, d.eval_limit),
                           "report": (d.report_split, d.report_limit)}[which]
            self._splits[which] = load_dataset(d.name, name, limit=limit, seed=self.spec.seed,
                                               **d.load_options())
        return self._splits[which]

    def _hold_out(self) -> None:
        """A file without splits: report = a seeded tenth of its images, search = a tenth of the
        rest, train = the remainder, so no trial is scored on what it trained on."""
        from pefomed.data import load_dataset
        from pefomed.data.holdout import DEFAULT_FRACTION, holdout, limited

        d, seed = self.spec.dataset, self.spec.seed
        whole = load_dataset(d.name, d.train_split, seed=seed, **d.load_options())
        rest, report, _ = holdout(whole, DEFAULT_FRACTION, seed)
        train, search, _ = holdout(rest, DEFAULT_FRACTION, seed)
        self._splits.update(train=limited(train, d.train_limit, seed), search=limited(search, d.eval_limit, seed),
                            report=limited(report, d.report_limit, seed))

    def run_spec(self, config: TrialConfig, out_dir: str | None) -> Any:
        from pefomed.train import RunSpec, TrainConfig

        spec = self.spec
        options = {"epochs": EPOCHS_CAP, **spec.train.options}
        lr = config.lr if config.lr is not None else TrainConfig().lr
        return RunSpec(
            model=spec.model, family=spec.family, dataset=spec.dataset.name, adapter=config.method,
            train_split=spec.dataset.train_split, eval_split=spec.dataset.search_split,
            parts=config.parts, layers=config.layers,
            settings=dict(config.settings), train_projector=config.train_projector,
            train=TrainConfig(lr=lr, batch_size=config.batch_size, seed=spec.seed, **options),
            budget=spec.make_budget(), eval_limit=spec.dataset.eval_limit,
            train_limit=spec.dataset.train_limit, seed=spec.seed, out_dir=out_dir,
            prompt_template=spec.prompt_template, image_size=spec.image_size, max_pixels=spec.max_pixels,
            dataset_root=spec.dataset.root, fields=spec.dataset.fields, language=spec.dataset.language,
            on_bad_record=spec.dataset.on_bad_record,
        )

    def prepare(self) -> None:
        """Load the data and build the model once before any trial, so a missing model or
        dataset stops the sweep with one clear error instead of failing every trial."""
        from pefomed.models.registry import create_model

        from pefomed.models.prompts import apply_template
        from pefomed.models.resolution import apply_resolution

        self.split("train")
        self.split("search")
        bundle = create_model(self.spec.model, family=self.spec.family, seed=self.spec.seed)
        apply_template(bundle, self.spec.prompt_template)
        apply_resolution(bundle, image_size=self.spec.image_size, max_pixels=self.spec.max_pixels)

    def __call__(self, config: TrialConfig, ctx: TrialContext) -> TrialOutcome:
        from pefomed.train import run_finetune

        record = run_finetune(self.run_spec(config, str(ctx.out_dir)), feature_cache=self.feature_cache,
                              progress=False, train_data=self.split("train"), eval_data=self.split("search"))
        cost = record.cost.to_dict()
        losses = record.train.losses
        outcome = TrialOutcome(
            metrics=(record.metrics or {}).get("metrics", {}), cost=cost,
            train={"stop_reason": record.stop_reason, "steps": record.train.steps,
                   "samples": record.train.samples, "epochs": record.train.epochs,
                   "final_loss": losses[-1] if losses and _finite(losses[-1]) else None,
                   "cache_note": record.train.cache_note},
            dataset={"name": self.spec.dataset.name, "train": record.datasets.get("train"),
                     "search": record.datasets.get("eval")},
            run_dir=record.out_dir,
        )
        if record.status != "ok":
            outcome.status = "failed"
            outcome.reason = failure_reason(record.stop_reason, cost, self.spec.budget)
        return outcome

    def final(self, record: dict[str, Any]) -> TrialOutcome:
        """Score the trial's saved adapter on the report split (no retraining)."""
        from pathlib import Path

        from pefomed.adapters import load_adapted
        from pefomed.evaluation import evaluate
        from pefomed.models.registry import create_model
        from pefomed.train.recipe import ADAPTER_DIR

        run_dir = Path(record["run_dir"])
        bundle = create_model(self.spec.model, family=self.spec.family, seed=self.spec.seed)
        adapted = load_adapted(bundle, run_dir / ADAPTER_DIR)
        split = self.split("report")
        result = evaluate(adapted, split.records, out_dir=run_dir / f"final-{self.spec.dataset.report_split}",
                          seed=self.spec.seed)
        return TrialOutcome(metrics=result.metrics, cost=dict(record.get("cost") or {}),
                            dataset={"name": self.spec.dataset.name, "report": split.summary()},
                            run_dir=str(run_dir))


def _finite(x: Any) -> bool:
    import math

    return isinstance(x, (int, float)) and math.isfinite(x)
