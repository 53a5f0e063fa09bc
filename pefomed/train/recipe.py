"""One fine-tuning run from a spec: build, inject, train, evaluate, write the run folder.

The CLI ``pefomed train`` and every sweep trial call :func:`run_finetune`. The run folder holds
``adapter/``, ``run.json`` (the :class:`RunRecord`: spec, versions, device, dataset fingerprints,
training outcome), ``cost.json``, ``metrics.json`` and ``predictions.jsonl``. Everything is
written into a temporary sibling folder first and renamed into place at the end, so a crashed
run leaves nothing behind and a folder that exists is complete. A run that *failed* by its own
rules (NaN loss, memory cap) still gets ``run.json`` and ``cost.json`` (status "failed") so sweeps
can record it; it has no adapter, metrics or predictions.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.models.base import LAYER_KINDS, PARTS
from pefomed.models.prompts import apply_template
from pefomed.models.resolution import apply_resolution
from pefomed.train.data import load_run_data
from pefomed.train.budget import Budget
from pefomed.train.feature_cache import FeatureCache
from pefomed.train.inputs import check_device
from pefomed.train.loop import TrainConfig, TrainResult, train

RUN_FILE = "run.json"
COST_FILE = "cost.json"
ADAPTER_DIR = "adapter"
VERSIONED = ("torch", "transformers", "peft", "bitsandbytes", "optuna", "accelerate", "pefomed")


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run. ``seed`` (default: ``train.seed``) seeds the model build,
    data subsets, adapter initialisation and the training loop; ``train.seed`` is set to it."""

    model: str
    dataset: str
    adapter: str
    train_split: str = "train"
    eval_split: str | None = "test"
    parts: tuple[str, ...] = ("language",)
    layers: str = "attention"
    settings: dict[str, Any] = field(default_factory=dict)
    train_projector: bool = False
    train: TrainConfig = field(default_factory=TrainConfig)
    budget: Budget = field(default_factory=lambda: Budget(max_steps=100))
    eval_limit: int | None = None
    train_limit: int | None = None
    protocols: tuple[str, ...] | None = None
    seed: int | None = None
    out_dir: str | None = None
    #: the model family, for a checkpoint whose config does not name a registered one
    family: str | None = None
    #: how questions become prompts: auto (the checkpoint's chat template if it has one, else
    #: plain), plain, chat, a format string with {question}, Jinja, or a file (models/prompts.py)
    prompt_template: str | None = None
    #: image resolution, one of the two (models/resolution.py: what each family makes of it)
    image_size: int | None = None
    max_pixels: int | None = None
    #: data: where a dataset's files/images are, column mapping for files, SLAKE's language,
    #: bad-record policy (None: skip for registered public datasets, error for your files)
    dataset_root: str | None = None
    fields: dict[str, str] | None = None
    language: str | None = None
    on_bad_record: str | None = None
    #: a separate evaluation dataset (file or name); else a file without splits is held out from
    eval_dataset: str | None = None
    holdout_fraction: float = 0.1

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
                 train_data: Any = None, eval_data: Any = None) -> RunRecord:
    """Build the model, inject the adapter, train within the budget, evaluate, write ``out_dir``.

    ``train_data`` / ``eval_data`` (a :class:`~pefomed.data.Split` or a list of records) replace
    loading ``spec.dataset`` — a sweep loads its data once and passes it to every trial.
    """
    import torch

    from pefomed.adapters import get_adapter, inject
    from pefomed.models.registry import check_family, create_model

    started = time.perf_counter()
    get_adapter(spec.adapter)  # unknown names fail before any data or model is loaded
    check_family(spec.model, spec.family)
    check_device(spec.train.device)
    out = _check_out_dir(spec.out_dir)
    if spec.eval_split is not None:
        from pefomed.evaluation import resolve_protocols

        resolve_protocols(spec.protocols)  # a typo must not cost a whole training run
    data = load_run_data(spec, train_data, eval_data)
    train_split, eval_split = data.train, data.eval
    bundle = create_model(spec.model, family=spec.family, seed=spec.seed)
    template = apply_template(bundle, spec.prompt_template)
    resolution = apply_resolution(bundle, image_size=spec.image_size, max_pixels=spec.max_pixels)
    torch.manual_seed(spec.seed)
    adapted = inject(bundle, spec.adapter, parts=spec.parts, layers=spec.layers,
                     settings=dict(spec.settings), train_projector=spec.train_projector)
    result = train(adapted, train_split.records, spec.train, spec.budget,
                   feature_cache=feature_cache, progress=progress)
    status = "failed" if result.failed else "ok"
    with _staging(out) as stage:
        metrics = None
        if eval_split is not None and status == "ok":
            from pefomed.evaluation import evaluate

            metrics = evaluate(adapted, eval_split.records, out_dir=stage, protocols=spec.protocols,
                               seed=spec.seed, progress=progress).to_dict()
        record = RunRecord(
            spec=spec, status=status, stop_reason=result.stop_reason, train=result, metrics=metrics,
            datasets=data.summary(),
            versions=library_versions(), device=device_info(spec.train),
            seconds=time.perf_counter() - started, out_dir=str(out) if out is not None else None,
            prompt_template=template.to_dict(), resolution=resolution, notes=list(data.notes),
        )
        if stage is not None:
            if status == "ok":
                from pefomed.export.card import write_adapter_card

                adapted.save(stage / ADAPTER_DIR)
                write_adapter_card(stage / ADAPTER_DIR, run=json.loads(json.dumps(record.to_dict(), default=str)))
            _write_json(stage / COST_FILE, result.cost.to_dict())
            _write_json(stage / RUN_FILE, record.to_dict())
    return record


def _check_out_dir(out_dir: str | None) -> Path | None:
    if out_dir is None:
        return None
    out = Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PefomedError(f"output folder {out} already exists and is not empty; "
                           "give a new --out/out_dir or remove it")
    _check_writable(out)
    return out


def _check_writable(out: Path) -> None:
    """Refuse an --out that could not be created or written, before any training is spent on it."""
    ancestor = out if out.exists() else out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PefomedError(f"cannot write output folder {out}: {ancestor} is a file, not a folder; "
                           "give another --out/out_dir")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PefomedError(f"cannot write output folder {out}: {ancestor} is not writable (permissions or a "
                           "read-only filesystem); give a writable --out/out_dir")


@contextlib.contextmanager
def _staging(out: Path | None):
    """A temporary sibling of ``out`` that replaces it on success and vanishes on error."""
    if out is None:
        yield None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        yield stage
        _check_out_dir(str(out))  # someone may have filled it while we trained
        if out.exists():
            out.rmdir()
        os.rename(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


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
