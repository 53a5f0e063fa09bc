"""Where training metrics go: always ``metrics.jsonl`` in the run folder, optionally TensorBoard,
Weights & Biases and MLflow through their own writers (optional extras, imported lazily).

Every record is ``{"step": N, ...}`` with ``train/...`` or ``eval/...`` keys; the JSONL file is
the record, the other loggers are views of the same values.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError

METRICS_LOG = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
#: report_to name -> (module to import, pip extra that installs it)
EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb"),
          "mlflow": ("mlflow", "mlflow")}


def check_reporters(names: tuple[str, ...]) -> None:
    """Refuse a logger whose library is missing before any data or model is loaded."""
    for name in names:
        module, extra = EXTRAS[name]
        if importlib.util.find_spec(module) is None:
            raise PefomedError(f"report_to {name!r} needs the {module} package; install it with "
                               f"pip install 'pefomed[{extra}]' or drop {name} from report_to")


class MetricsLog:
    """Appends one JSON object per line and flushes, so a killed run keeps what it logged."""

    def __init__(self, path: Path, *, after_step: int | None = None) -> None:
        self.path = path
        if after_step is not None and path.is_file():
            # a resumed run recomputes the steps after its checkpoint: drop their old lines
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if (record := _parse(line)) is not None and record.get("step", 0) <= after_step]
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            os.replace(tmp, path)
        self._file = path.open("a", encoding="utf-8")

    def log(self, step: int, values: dict[str, Any]) -> None:
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in values.items()}
        self._file.write(json.dumps({"step": step, **clean}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _parse(line: str) -> dict[str, Any] | None:
    """A record, or None for a blank line or the torn last line of a killed run."""
    try:
        return json.loads(line) if line.strip() else None
    except json.JSONDecodeError:
        return None


def read_metrics_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl``."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


class _TensorBoard:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / TENSORBOARD_DIR))
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def log(self, step: int, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _Wandb:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        # the run folder's name is the id, so a resumed run continues the same W&B run
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "pefomed"), name=run_dir.name,
                              id=_safe_id(run_dir), resume="allow", dir=str(run_dir), config=config)

    def log(self, step: int, values: dict[str, Any]) -> None:
        self.run.log(values, step=step)

    def close(self) -> None:
        self.run.finish()


class _Mlflow:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import mlflow

        self.mlflow = mlflow
        self.run = mlflow.start_run(run_name=run_dir.name)
        flat = {k: v for k, v in _flatten(config).items() if v is not None}
        mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})

    def log(self, step: int, values: dict[str, Any]) -> None:
        numeric = {k.replace("/", "."): float(v) for k, v in values.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        self.mlflow.log_metrics(numeric, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


_BACKENDS = {"tensorboard": _TensorBoard, "wandb": _Wandb, "mlflow": _Mlflow}


class Reporters:
    """The JSONL log (when there is a run folder) plus each requested logger."""

    def __init__(self, run_dir: Path | None, names: tuple[str, ...], config: dict[str, Any], *,
                 resume_step: int | None = None) -> None:
        check_reporters(names)
        self.sinks: list[Any] = []
        if run_dir is not None:
            self.sinks.append(MetricsLog(run_dir / METRICS_LOG, after_step=resume_step))
            self.sinks.extend(_BACKENDS[name](run_dir, config) for name in names)

    def log(self, step: int, values: dict[str, Any]) -> None:
        for sink in self.sinks:
            sink.log(step, values)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.sinks = []


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _safe_id(run_dir: Path) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in run_dir.resolve().name)[:64]
