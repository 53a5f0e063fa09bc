"""One fine-tuning run from a spec: build, inject, train, evaluate, write the run folder.

The CLI ``pefomed train`` and every sweep trial call :func:`run_finetune`. The run folder holds
``adapter/``, ``run.json`` (the :class:`RunRecord`: spec, versions, device, dataset fingerprints,
training outcome), ``config.yaml`` (the spec: ``pefomed train --config`` repeats the run),
``cost.json``, ``metrics.json``, ``predictions.jsonl``, ``metrics.jsonl`` (the training log) and
``checkpoints/``. While it trains the folder carries an in-progress marker; a folder with
``run.json`` is complete (see :mod:`pefomed.train.run_dir`). A run that *failed* by its own
rules (NaN loss, memory cap) still gets ``run.json`` and ``cost.json`` (status "failed") so sweeps
can record it; it has no adapter, metrics or predictions.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.models.base import LAYER_KINDS, PARTS
from pefomed.train.budget import Budget
from pefomed.train.config import CONFIG_FILE, dump_config
from pefomed.train.control import RunControl
from pefomed.train.feature_cache import FeatureCache
from pefomed.train.loop import TrainConfig, TrainResult, train
from pefomed.train.run_dir import RUN_FILE
from pefomed.train.schema import option

COST_FILE = "cost.json"
ADAPTER_DIR = "adapter"
VERSIONED = ("torch", "transformers", "peft", "bitsandbytes", "optuna", "accelerate", "pefomed")


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run. ``seed`` (default: ``train.seed``) seeds the model build,
    data subsets, adapter initialisation and the training loop; ``train.seed`` is set to it."""

    model: str = option(help="registered name, folder or hub id")
    dataset: str = option(help="registered name or path")
    adapter: str = option(help="adapter method (see `pefomed ls adapters`)")
    train_split: str = option("train")
    eval_split: str | None = option("test", help="split scored after training")
    parts: tuple[str, ...] = option(("language",), help="model parts to adapt: vision, projector, language")
    layers: str = option("attention", help="attention, mlp or all-linear")
    settings: dict[str, Any] = option(default_factory=dict, cli="--set", help="adapter setting, e.g. --set r=16")
    train_projector: bool = option(False, help="also train the projector fully")
    train: TrainConfig = field(default_factory=TrainConfig)
    budget: Budget = field(default_factory=lambda: Budget(max_steps=100))
    control: RunControl = field(default_factory=RunControl)
    eval_limit: int | None = option(None, help="evaluate on a seeded subset of this many records")
    train_limit: int | None = option(None, help="train on a seeded subset of this many records")
    protocols: tuple[str, ...] | None = option(None, help="scoring protocols (default: the standard set)")
    seed: int | None = option(None, help="seeds the model build, data subsets, adapter and training")
    feature_cache: bool = option(True, help="compute frozen image features once per image (exact; off "
                                 "when the tower trains)")
    out_dir: str | None = option(None, cli="--out", help="run folder to write (default runs/<model>-<adapter>-<time>)")

    def __post_init__(self) -> None:
        errors = []
        for name in ("model", "dataset", "adapter", "train_split"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                errors.append(f"{name} must be a non-empty string, but got {value!r}")
        if self.eval_split is not None and (not isinstance(self.eval_split, str) or not self.eval_split):
            errors.append(f"eval_split must be a split name or None, but got {self.eval_split!r}")
        parts = (self.parts,) if isinstance(self.parts, str) else tuple(self.parts)
        bad = [p for p in parts if p not in PARTS]
        if bad or not parts:
            errors.append(f"parts must be a non-empty subset of {PARTS}, but got {list(parts)}")
        if self.layers not in LAYER_KINDS:
            errors.append(f"layers must be one of {LAYER_KINDS}, but got {self.layers!r}")
        if not isinstance(self.settings, dict):
            errors.append(f"settings must be a dict, but got {type(self.settings).__name__}")
        for name in ("train_limit", "eval_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                errors.append(f"{name} must be a positive integer or None, but got {value!r}")
        if not isinstance(self.train, TrainConfig):
            errors.append(f"train must be a TrainConfig, but got {type(self.train).__name__}")
        if not isinstance(self.budget, Budget):
            errors.append(f"budget must be a Budget, but got {type(self.budget).__name__}")
        if not isinstance(self.control, RunControl):
            errors.append(f"control must be a RunControl, but got {type(self.control).__name__}")
        if not isinstance(self.feature_cache, bool):
            errors.append(f"feature_cache must be true or false, but got {self.feature_cache!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            errors.append(f"seed must be an integer or None, but got {self.seed!r}")
        if errors:
            raise PefomedError(f"invalid RunSpec: {'; '.join(errors)}")
        object.__setattr__(self, "parts", parts)
        if self.protocols is not None:
            object.__setattr__(self, "protocols", (self.protocols,) if isinstance(self.protocols, str)
                               else tuple(self.protocols))
        if self.seed is None:
            object.__setattr__(self, "seed", self.train.seed)
        elif self.train.seed != self.seed:
            object.__setattr__(self, "train", replace(self.train, seed=self.seed))

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(parts=list(self.parts), train=self.train.to_dict(), budget=self.budget.to_dict(),
                    control=self.control.to_dict(),
                    settings=dict(self.settings),
                    protocols=list(self.protocols) if self.protocols is not None else None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunSpec":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PefomedError(f"unknown RunSpec field(s) {unknown}; known: {', '.join(sorted(known))}")
        kwargs = dict(data)
        if isinstance(kwargs.get("train"), dict):
            kwargs["train"] = TrainConfig.from_dict(kwargs["train"])
        if isinstance(kwargs.get("budget"), dict):
            kwargs["budget"] = Budget.from_dict(kwargs["budget"])
        if isinstance(kwargs.get("control"), dict):
            kwargs["control"] = RunControl.from_dict(kwargs["control"])
        return cls(**kwargs)


@dataclass
class RunRecord:
    """The outcome of :func:`run_finetune`, JSON-safe (``to_dict`` / ``from_dict``; ``load(dir)``)."""

    spec: RunSpec
    status: str  # "ok" or "failed"
    stop_reason: str
    train: TrainResult
    metrics: dict[str, Any] | None  # EvalResult.to_dict(), None when not evaluated
    datasets: dict[str, Any]  # "train"/"eval" -> Split.summary() (with the fingerprint)
    versions: dict[str, str | None]
    device: dict[str, str]
    seconds: float
    out_dir: str | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)  # scores while training
    best: dict[str, Any] | None = None  # the best evaluation: step, metric, value, checkpoint

    @property
    def cost(self) -> Any:
        return self.train.cost

    def metric(self, protocol: str) -> float | None:
        """The value of ``protocol`` (None if not evaluated or its subset was empty)."""
        if self.metrics is None:
            return None
        entry = self.metrics["metrics"].get(protocol)
        if entry is None:
            raise PefomedError(f"protocol {protocol!r} was not scored; scored: "
                               f"{', '.join(self.metrics['metrics']) or 'none'}")
        return entry["value"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self) | {"spec": self.spec.to_dict(), "train": self.train.to_dict()}
        data["cost"] = self.train.cost.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        kwargs["spec"] = RunSpec.from_dict(data["spec"])
        kwargs["train"] = TrainResult.from_dict(data["train"])
        return cls(**kwargs)

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunRecord":
        path = Path(run_dir) / RUN_FILE
        if not path.is_file():
            raise PefomedError(f"no {RUN_FILE} in {run_dir}; give a folder written by run_finetune "
                               "or `pefomed train`")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def run_finetune(spec: RunSpec, *, feature_cache: FeatureCache | None = None, progress: bool = True,
                 train_data: Any = None, eval_data: Any = None, val_data: Any = None,
                 resume: bool = False) -> RunRecord:
    """Build the model, inject the adapter, train within the budget, evaluate, write ``out_dir``.

    ``train_data`` / ``eval_data`` / ``val_data`` (a :class:`~pefomed.data.Split` or a list of
    records) replace loading ``spec.dataset`` — a sweep loads its data once and passes it to every
    trial. Without a ``feature_cache``, one is made when ``spec.feature_cache`` is on. ``resume``
    continues the unfinished run in ``out_dir`` from its last checkpoint. An interrupted run
    (SIGINT/SIGTERM) writes a checkpoint and raises :class:`TrainingInterrupted`.
    """
    import torch

    from pefomed.adapters import get_adapter, inject
    from pefomed.evaluation import resolve_protocols
    from pefomed.models.registry import create_model
    from pefomed.train import checkpoint as ckpt
    from pefomed.train import run_dir
    from pefomed.train.reporting import check_reporters
    from pefomed.train.distributed import DataParallel, launched
    from pefomed.train.progress import notes
    from pefomed.train.session import Session, spent_before

    started = time.perf_counter()
    get_adapter(spec.adapter)  # unknown names fail before any data or model is loaded
    if spec.eval_split is not None:
        resolve_protocols(spec.protocols)  # a typo must not cost a whole training run
    if spec.control.eval_every is not None:
        resolve_protocols([spec.control.metric])
    check_reporters(spec.control.report_to)
    main_process = DataParallel(spec.train.device).main if launched() else True  # only rank 0 writes, logs, evaluates
    progress = progress and main_process
    state = None
    if resume:
        out = run_dir.check_resumable(spec.out_dir)
        state = spent_before(out, ckpt.load_state(ckpt.latest_checkpoint(out)))
    else:
        out = run_dir.check_new(spec.out_dir) if main_process else None
    out = out if main_process else None
    with run_dir.cleaned_on_error(out, created=not resume):
        train_split = _split(spec, spec.train_split, spec.train_limit, train_data)
        eval_split = None
        if spec.eval_split is not None and main_process:
            eval_split = _split(spec, spec.eval_split, spec.eval_limit, eval_data)
        val_split = None
        if spec.control.eval_every is not None and main_process:
            val_split = _split(spec, spec.control.val_split, spec.control.val_limit, val_data)
        if out is not None:
            run_dir.mark_in_progress(out)
            (out / CONFIG_FILE).write_text(dump_config(spec, with_out_dir=False), encoding="utf-8")
        if feature_cache is None and spec.feature_cache:
            feature_cache = FeatureCache()
        bundle = create_model(spec.model, seed=spec.seed)
        torch.manual_seed(spec.seed)
        adapted = inject(bundle, spec.adapter, parts=spec.parts, layers=spec.layers,
                         settings=dict(spec.settings), train_projector=spec.train_projector)
        session = Session(spec, out, adapted, val_split.records if val_split is not None else None,
                          resume=state, note=notes(progress))
        try:
            with session.signals():
                result = train(adapted, train_split.records, spec.train, spec.budget,
                               feature_cache=feature_cache, progress=progress, hooks=session, resume=state,
                               log_every=spec.control.log_every)
        finally:
            session.close()
        if result.stop_reason == "interrupted":
            raise TrainingInterrupted(out, result.steps)
        status = "failed" if result.failed else "ok"
        with run_dir.finishing(out) as stage:
            metrics = None
            if eval_split is not None and status == "ok":
                from pefomed.evaluation import evaluate

                metrics = evaluate(adapted, eval_split.records, out_dir=stage, protocols=spec.protocols,
                                   seed=spec.seed, progress=progress).to_dict()
            record = RunRecord(
                spec=spec, status=status, stop_reason=result.stop_reason, train=result, metrics=metrics,
                datasets={"train": train_split.summary(),
                          "eval": eval_split.summary() if eval_split is not None else None,
                          "validation": val_split.summary() if val_split is not None else None},
                versions=library_versions(), device=device_info(spec.train),
                seconds=time.perf_counter() - started, out_dir=str(out) if out is not None else None,
                evaluations=session.evaluations, best=session.best,
            )
            if stage is not None:
                if status == "ok":
                    adapted.save(stage / ADAPTER_DIR)
                run_dir.write_json(stage / COST_FILE, result.cost.to_dict())
                run_dir.write_json(stage / RUN_FILE, record.to_dict())
    return record


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped a run after a step; its checkpoint lets ``--resume`` continue."""

    def __init__(self, out: Any, step: int) -> None:
        self.out = out
        self.step = step
        super().__init__(f"interrupted after step {step}; checkpoint in {out}/checkpoints/step-{step}; "
                         f"continue with: pefomed train --resume {out}")

    def __str__(self) -> str:
        return self.args[0]


def _split(spec: RunSpec, split: str, limit: int | None, given: Any) -> Any:
    from pefomed.data import Split, load_dataset

    if given is None:
        return load_dataset(spec.dataset, split, limit=limit, seed=spec.seed)
    if isinstance(given, Split):
        return given
    return Split(dataset=spec.dataset, split=split, records=list(given))


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a run's numbers depend on (None if missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def device_info(config: TrainConfig) -> dict[str, str]:
    """The device and precision a run trains with, in words."""
    import platform

    import torch

    from pefomed.train.step import resolve_device, resolve_dtype

    device = resolve_device(config.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return {"device": str(device), "name": name, "dtype": str(resolve_dtype(config.dtype, device)),
            "python": platform.python_version(), "threads": str(torch.get_num_threads())}
