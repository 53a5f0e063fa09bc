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
from pefomed.models.prompts import apply_template
from pefomed.models.resolution import apply_resolution
from pefomed.train.budget import Budget
from pefomed.train.config import CONFIG_FILE, dump_config
from pefomed.train.control import RunControl
from pefomed.train.data import dataset_kwargs, load_run_data
from pefomed.train.feature_cache import FeatureCache
from pefomed.train.inputs import check_device
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
    family: str | None = option(None, help="model family, when the checkpoint's config does not name one "
                                "(see `pefomed ls models`)")
    #: how questions become prompts (models/prompts.py)
    prompt_template: str | None = option(None, help="auto (the checkpoint's chat template if it has one, else "
                                         "plain), plain, chat, a format string with {question}, Jinja, or a file")
    #: image resolution, one of the two (models/resolution.py: what each family makes of it)
    image_size: int | None = option(None, help="image size: Qwen max_pixels=N*N, Idefics3/SmolVLM longest "
                                    "edge, fixed-size towers only their own size")
    max_pixels: int | None = option(None, help="cap on pixels per image (Qwen2-VL/2.5-VL, Idefics3/SmolVLM)")
    #: data options (None for on_bad_record: skip for registered public datasets, error for your files)
    dataset_root: str | None = option(None, help="folder holding the dataset's files and images")
    fields: dict[str, str] | None = option(None, cli="--field", help="column mapping for your files, "
                                           "e.g. --field image=img_path")
    language: str | None = option(None, help="dataset language (SLAKE: en or zh)")
    on_bad_record: str | None = option(None, help="error or skip (default: skip for public datasets, "
                                       "error for your files)")
    eval_dataset: str | None = option(None, help="evaluate on this dataset/file (default: --dataset's "
                                      "--eval-split; a file without splits holds out --holdout-fraction)")
    holdout_fraction: float = option(0.1, help="share of images held out for evaluation when --dataset "
                                     "has no splits")

    def __post_init__(self) -> None:
        errors = []
        for name in ("model", "dataset", "adapter", "train_split"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                errors.append(f"{name} must be a non-empty string, but got {value!r}")
        if self.family is not None and (not isinstance(self.family, str) or not self.family):
            errors.append(f"family must be a family name or None, but got {self.family!r}")
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
        errors += _input_errors(self)
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


def _input_errors(spec: RunSpec) -> list[str]:
    from pefomed.data.context import BAD_RECORD_POLICIES
    from pefomed.models.resolution import check_resolution

    errors = []
    for name in ("prompt_template", "dataset_root", "language", "eval_dataset"):
        value = getattr(spec, name)
        if value is not None and (not isinstance(value, str) or not value):
            errors.append(f"{name} must be a non-empty string or None, but got {value!r}")
    if spec.fields is not None and not isinstance(spec.fields, dict):
        errors.append(f"fields must be a mapping like {{'image': 'img_path'}}, but got {spec.fields!r}")
    if spec.on_bad_record is not None and spec.on_bad_record not in BAD_RECORD_POLICIES:
        errors.append(f"on_bad_record must be one of {', '.join(BAD_RECORD_POLICIES)}, but got "
                      f"{spec.on_bad_record!r}")
    f = spec.holdout_fraction
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
        errors.append(f"holdout_fraction must satisfy 0 < fraction < 1, but got {f!r}")
    try:
        check_resolution(spec.image_size, spec.max_pixels)
    except PefomedError as exc:
        errors.append(str(exc))
    return errors


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
    #: the resolved prompt template (PromptTemplate.to_dict()) and image resolution in effect
    prompt_template: dict[str, Any] | None = None
    resolution: dict[str, Any] | None = None
    #: what the run must tell its reader: skipped records, a held-out part, train/eval overlap
    notes: list[str] = field(default_factory=list)

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
    from pefomed.models.registry import check_family, create_model
    from pefomed.train import checkpoint as ckpt
    from pefomed.train import run_dir
    from pefomed.train.reporting import check_reporters
    from pefomed.train.distributed import DataParallel, launched
    from pefomed.train.progress import notes
    from pefomed.train.session import Session, spent_before

    started = time.perf_counter()
    get_adapter(spec.adapter)  # unknown names fail before any data or model is loaded
    check_family(spec.model, spec.family)
    check_device(spec.train.device)
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
        data = load_run_data(spec, train_data, eval_data)  # every rank: the same training records
        train_split, eval_split = data.train, data.eval if main_process else None
        val_split = None
        if spec.control.eval_every is not None:
            train_split, val_split = _validation(spec, train_split, val_data)
            val_split = val_split if main_process else None
        if out is not None:
            run_dir.mark_in_progress(out)
            (out / CONFIG_FILE).write_text(dump_config(spec, with_out_dir=False), encoding="utf-8")
        if feature_cache is None and spec.feature_cache:
            feature_cache = FeatureCache()
        bundle = create_model(spec.model, family=spec.family, seed=spec.seed)
        template = apply_template(bundle, spec.prompt_template)
        resolution = apply_resolution(bundle, image_size=spec.image_size, max_pixels=spec.max_pixels)
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
                                   train_answers=[(r.answer, r.answer_type) for r in train_split.records],
                                   seed=spec.seed, progress=progress).to_dict()
            record = RunRecord(
                spec=spec, status=status, stop_reason=result.stop_reason, train=result, metrics=metrics,
                datasets={**data.summary(), "train": train_split.summary(),  # minus a carved validation part
                          "validation": val_split.summary() if val_split is not None else None},
                versions=library_versions(), device=device_info(spec.train, adapted.bundle.model),
                seconds=time.perf_counter() - started, out_dir=str(out) if out is not None else None,
                evaluations=session.evaluations, best=session.best,
                prompt_template=template.to_dict(), resolution=resolution, notes=list(data.notes),
            )
            if stage is not None:
                if status == "ok":
                    from pefomed.export.card import write_adapter_card

                    adapted.save(stage / ADAPTER_DIR)
                    write_adapter_card(stage / ADAPTER_DIR, run=json.loads(json.dumps(record.to_dict(), default=str)))
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


def _validation(spec: RunSpec, train_split: Any, given: Any) -> tuple[Any, Any]:
    """(training records, validation split). A dataset without splits has no validation split:
    it is held out of the training part by image (seeded), so the best checkpoint is never chosen
    on records the run trains on."""
    from pefomed.data.holdout import has_splits, holdout, limited

    if given is None and spec.eval_dataset is None and not has_splits(spec.dataset):
        train_split, val_split, _ = holdout(train_split, spec.holdout_fraction, spec.seed + 1)
        return train_split, limited(val_split, spec.control.val_limit, spec.seed)
    return train_split, _split(spec, spec.control.val_split, spec.control.val_limit, given)


def _split(spec: RunSpec, split: str, limit: int | None, given: Any) -> Any:
    from pefomed.data import Split, load_dataset

    if given is None:
        return load_dataset(spec.dataset, split, limit=limit, **dataset_kwargs(spec))
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


def device_info(config: TrainConfig, model=None) -> dict[str, str]:
    """The device and precision a run trains with, in words (``model``: the one trained, which
    ``dtype: auto`` on a CPU with native bf16 decides by)."""
    import platform

    import torch

    from pefomed.train.step import resolve_device, resolve_dtype

    device = resolve_device(config.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return {"device": str(device), "name": name, "dtype": str(resolve_dtype(config.dtype, device, model)),
            "python": platform.python_version(), "threads": str(torch.get_num_threads())}
