"""The sweep specification: a YAML file (or the built-in default) -> :class:`SweepSpec`.

    spec = load_spec("sweeps/vqa-rad-lora-vs-qlora.yaml", overrides={"budget.max_steps": 50})
    spec = load_spec()            # the built-in default (medvlm-tiny on synth-rad)

Overrides are dotted paths into the YAML (``budget.max_steps``, ``adapters.0.settings.r``,
``dataset.eval_limit``); they are applied before validation, so every field can be overridden
and every problem, in the file or in an override, is reported at once (:class:`SpecError`).
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.sweep.execution import ExecutionSpec
from pefomed.sweep.hparams import HyperParam

DEFAULT_SPEC = Path(__file__).with_name("default.yaml")
SAMPLERS = ("tpe", "nsga2", "random", "grid")
COST_NAMES = ("device_seconds", "peak_memory_mb", "trainable_params", "adapter_bytes",
              "flops_estimate", "wall_seconds")
#: hyperparameters that belong to training, not to the adapter (namespaced like the others)
LR = "learning_rate"
TRAIN_PARAMS = (LR,)
DEFAULT_LR = HyperParam("float", 1e-4, 1e-2, log=True)


class SpecError(PefomedError):
    """A sweep spec with problems; ``.problems`` holds one line per problem."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        n = len(problems)
        head = f"{where}: {n} problem{'s' if n != 1 else ''} in the sweep spec"
        super().__init__(head + "".join(f"\n  - {p}" for p in problems))


@dataclass(frozen=True)
class DatasetSpec:
    """Where the data comes from and which split does what.

    ``search_split`` scores every trial (the objective); ``report_split`` is used only once, at
    the end, for the frontier configurations. The ``*_limit`` fields cap each split (seeded).
    """

    name: str
    root: str | None = None
    options: dict = field(default_factory=dict)
    train_split: str = "train"
    search_split: str = "validation"
    report_split: str = "test"
    train_limit: int | None = None
    eval_limit: int | None = None
    report_limit: int | None = None
    #: as on ``pefomed train``: column mapping for files, SLAKE's language, bad-record policy
    fields: dict | None = None
    language: str | None = None
    on_bad_record: str | None = None

    def load_options(self) -> dict:
        """``load_dataset`` keyword arguments beyond name and split."""
        out = dict(self.options)
        out.update({k: v for k, v in (("fields", self.fields), ("language", self.language)) if v})
        return {"root": self.root, "on_bad_record": self.on_bad_record, **out}


@dataclass(frozen=True)
class AdapterSpec:
    """One method to compare. ``label`` (default: ``name``) namespaces its search parameters.

    ``settings`` are fixed (taken out of the search); ``search_space`` overrides the catalogue's
    ranges field by field (``learning_rate`` included: a per-method learning-rate range).
    """

    name: str
    label: str
    settings: dict = field(default_factory=dict)
    parts: tuple[str, ...] | None = None
    layers: str | None = None
    train_projector: bool = False
    search_space: dict[str, HyperParam] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainSpec:
    """Training settings shared by every trial; ``lr`` is a fixed number or a range.

    ``options`` are further :class:`~pefomed.train.loop.TrainConfig` fields (scheduler,
    warmup_ratio, weight_decay, device, dtype, ...). ``epochs`` defaults to a cap so high that
    the per-trial budget, the same for every trial, is what stops training.
    """

    lr: float | HyperParam | None = None
    batch_size: int = 8
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectiveSpec:
    """Maximise ``accuracy`` (an evaluation protocol name), minimise ``cost`` (a Cost figure)."""

    accuracy: str = "closed-lenient"
    cost: str = "device_seconds"


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. Build it with :func:`load_spec` (or :func:`parse_spec` on a dict)."""

    name: str
    model: str
    dataset: DatasetSpec
    adapters: tuple[AdapterSpec, ...]
    budget: dict
    train: TrainSpec = TrainSpec()
    objectives: ObjectiveSpec = ObjectiveSpec()
    n_trials: int | None = None
    timeout: float | None = None
    sampler: str = "tpe"
    seed: int = 0
    storage: str | None = None
    study: str | None = None
    run_dir: str | None = None
    #: how inputs are built, the same for every trial (RunSpec fields of the same names)
    prompt_template: str | None = None
    image_size: int | None = None
    max_pixels: int | None = None
    execution: ExecutionSpec = ExecutionSpec()
    source: str = "<dict>"
    #: the model family, for a checkpoint whose config does not name a registered one
    family: str | None = None

    @property
    def run_path(self) -> Path:
        """The run directory (default ``runs/sweeps/<name>``)."""
        return Path(self.run_dir or f"runs/sweeps/{self.name}")

    @property
    def storage_url(self) -> str:
        """The Optuna RDB URL (default: SQLite file ``study.db`` in the run directory)."""
        return self.storage or f"sqlite:///{(self.run_path / 'study.db').resolve()}"

    @property
    def study_name(self) -> str:
        return self.study or self.name

    def adapter(self, label: str) -> AdapterSpec:
        for a in self.adapters:
            if a.label == label:
                return a
        raise PefomedError(f"no adapter labelled {label!r} in this sweep; labels: "
                           f"{', '.join(a.label for a in self.adapters)}")

    def make_budget(self) -> Any:
        """The per-trial :class:`~pefomed.train.budget.Budget` (the same for every trial)."""
        from pefomed.train.budget import Budget

        return Budget(**self.budget)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (stored with the study, so a resumed sweep can be checked against it)."""
        out = asdict(self)
        out["adapters"] = [
            {**asdict(a), "parts": list(a.parts) if a.parts else None,
             "search_space": {k: v.to_dict() for k, v in a.search_space.items()}}
            for a in self.adapters
        ]
        lr = self.train.lr
        out["train"]["lr"] = lr.to_dict() if isinstance(lr, HyperParam) else lr
        return out

    def to_raw(self) -> dict[str, Any]:
        """A mapping that :func:`~pefomed.sweep.validate.parse_spec` turns back into this spec
        (how a worker or an isolated trial process receives it: JSON, never a pickle)."""
        from pefomed.adapters import get_adapter

        out = self.to_dict()
        out.pop("source")
        for raw, a in zip(out["adapters"], self.adapters):  # a catalogue range the spec removed stays removed
            for key in get_adapter(a.name).search_space or {}:
                if key not in a.search_space and key not in a.settings:
                    raw["search_space"][key] = None
        train = out.pop("train")
        out["train"] = {"lr": train["lr"], "batch_size": train["batch_size"], **train["options"]}
        return out

    def comparability_key(self) -> dict[str, Any]:
        """What must not change between workers/resumes of one study (the trials must compare)."""
        d = self.to_dict()
        key = {k: d[k] for k in ("model", "dataset", "adapters", "budget", "train", "objectives", "seed")}
        # settings added later count only when set, so studies started before they existed still resume
        key["dataset"] = {k: v for k, v in key["dataset"].items()
                          if v is not None or k not in ("fields", "language", "on_bad_record")}
        return key | {k: d[k] for k in ("family", "prompt_template", "image_size", "max_pixels") if d[k] is not None}


def set_path(raw: dict, dotted: str, value: Any) -> None:
    """Set ``raw[a][b][0][c] = value`` for ``dotted = "a.b.0.c"`` (creating mappings as needed)."""
    keys = dotted.split(".")
    node: Any = raw
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise PefomedError(f"override {dotted!r}: {'.'.join(keys[:i]) or 'top'} is a list of "
                                   f"{len(node)}; use an index 0..{len(node) - 1}")
            idx = int(key)
            if last:
                node[idx] = value
            else:
                if isinstance(node[idx], str):  # "lora" -> {"name": "lora"} so fields can be set
                    node[idx] = {"name": node[idx]}
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                if not isinstance(node.get(key), (dict, list)):
                    node[key] = {}
                node = node[key]
        else:
            raise PefomedError(f"override {dotted!r}: {'.'.join(keys[:i])} is a value, not a mapping")


def read_yaml(path: str | Path) -> dict:
    """The YAML mapping in ``path`` (one-line errors for a missing file or bad YAML)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise PefomedError(f"sweep spec {path} does not exist; give a YAML file (see sweeps/*.yaml) "
                           "or run bare `pefomed sweep` for the built-in default")
    try:
        # JSON is YAML, but YAML 1.1 reads JSON's 1e-05 as a string
        raw = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except json.JSONDecodeError as exc:
        raise PefomedError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); fix the syntax") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise PefomedError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise PefomedError(f"{path}: the sweep spec must be a YAML mapping, but got {type(raw).__name__}")
    return raw


def load_spec(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read a spec (None: the built-in default), apply dotted ``overrides``, validate everything."""
    from pefomed.sweep.validate import parse_spec

    source = Path(path) if path is not None else DEFAULT_SPEC
    raw = read_yaml(source)
    raw = copy.deepcopy(raw)
    raw.setdefault("name", "default" if path is None else source.stem)
    for dotted, value in (overrides or {}).items():
        set_path(raw, dotted, value)
    return parse_spec(raw, where=str(source) if path is not None else "built-in default spec")
