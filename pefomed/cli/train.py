"""``pefomed train``: one budgeted fine-tuning run, evaluated, written to a run folder."""
from __future__ import annotations

import json
import time

import click

from pefomed.cli.app import main
from pefomed.cli.inputs import echo_notes

DEFAULT_MODEL = "medvlm-tiny"
DEFAULT_DATASET = "synth-rad"
#: used when no budget option is given, so ``pefomed train --adapter lora`` just works
DEFAULT_MAX_STEPS = 200


def _leaves():
    from pefomed.train.recipe import RunSpec
    from pefomed.train.schema import leaves

    return leaves(RunSpec)


def _with_schema_options(command):
    """Every RunSpec field (nested train/budget/control fields flattened) as a flag."""
    from pefomed.train.schema import click_options

    for decorator in reversed(click_options(_leaves())):
        command = decorator(command)
    return command


@main.command("train")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML run config (keys as in --print-config); flags override it")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False),
              help="continue an interrupted run folder from its last checkpoint (flags such as a "
                   "larger --max-steps override its config)")
@click.option("--print-config", is_flag=True, help="print the resolved config as YAML and exit")
@click.option("--json", "as_json", is_flag=True, help="print the run record as JSON instead of tables")
@_with_schema_options
def train_cmd(config_path, resume_dir, print_config, as_json, **values) -> None:
    """Fine-tune MODEL with ADAPTER on DATASET within a budget, evaluate, write a run folder."""
    from pefomed.train import run_finetune
    from pefomed.train.config import dump_config

    spec = resolve_spec(config_path, resume_dir, values)
    if print_config:
        click.echo(dump_config(spec), nl=False)
        return
    record = run_finetune(spec, progress=not as_json, resume=resume_dir is not None)
    if record.out_dir is None and spec.out_dir is not None:
        return  # a data-parallel process other than rank 0: rank 0 reports
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2))
    else:
        _print_summary(record)
        echo_notes(record.notes)  # with --json they are in the record
    if record.status != "ok":
        raise SystemExit(1)


def resolve_spec(config_path: str | None, resume_dir: str | None, values: dict):
    """File (or the resumed run's config) < flags < the CLI's own defaults for what is still unset."""
    from pathlib import Path

    from pefomed.errors import PefomedError
    from pefomed.models.registry import default_learning_rate
    from pefomed.train.config import CONFIG_FILE, merge, read_config, spec_from_mapping
    from pefomed.train.schema import cli_overrides

    if config_path and resume_dir:
        raise PefomedError("give --config or --resume, not both (a resumed run uses its own config.yaml)")
    where = "command line"
    raw: dict = {}
    if resume_dir:
        path = Path(resume_dir) / CONFIG_FILE
        if not path.is_file():
            raise PefomedError(f"{resume_dir} has no {CONFIG_FILE}; --resume takes a run folder written "
                               "by `pefomed train`")
        raw, where = read_config(path), str(path)
    elif config_path:
        raw, where = read_config(config_path), config_path
    overrides = cli_overrides(_leaves(), values)
    if resume_dir:
        overrides[("out_dir",)] = resume_dir
    merged = merge(raw, overrides)
    merged.setdefault("model", DEFAULT_MODEL)
    merged.setdefault("dataset", DEFAULT_DATASET)
    budget = merged.get("budget") if isinstance(merged.get("budget"), dict) else {}
    if not any(budget.get(k) is not None for k in ("max_steps", "max_samples", "max_seconds",
                                                    "max_device_seconds")):
        merged = merge(merged, {("budget", "max_steps"): DEFAULT_MAX_STEPS})
    train = merged.get("train") if isinstance(merged.get("train"), dict) else {}
    if train.get("lr") is None and isinstance(merged.get("adapter"), str):
        try:
            lr = default_learning_rate(merged["model"], merged["adapter"])
        except PefomedError:
            lr = None  # an unknown adapter: reported with every other problem below
        if lr is not None:
            merged = merge(merged, {("train", "lr"): lr})
    if not merged.get("out_dir") and isinstance(merged.get("adapter"), str):
        merged["out_dir"] = _default_out(merged["model"], merged["adapter"])
    return spec_from_mapping(merged, where=where)


def _default_out(model: str, adapter: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{model}-{adapter}")
    return f"runs/{safe}-{time.strftime('%Y%m%d-%H%M%S')}"


def _template_line(template: dict | None) -> str:
    from pefomed.models.prompts import PromptTemplate

    return PromptTemplate.from_dict(template).describe() if template else "-"


def _print_summary(record) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cost = record.cost
    spec = record.spec
    table = Table(title=f"{spec.model} + {spec.adapter} on {spec.dataset}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    share = 100 * cost.trainable_params / cost.total_params if cost.total_params else 0.0
    rows = [
        ("status", f"{record.status} (stop: {record.stop_reason})"),
        ("budget", spec.budget.describe()),
        ("steps / samples", f"{cost.steps} / {cost.samples} ({record.train.epochs:.2f} epochs)"),
        ("final loss", f"{record.train.losses[-1]:.4f}" if record.train.losses else "-"),
        ("wall seconds", f"{cost.wall_seconds:.2f}"),
        ("device seconds", f"{cost.device_seconds:.2f} ({cost.device_seconds_kind})"),
        ("peak memory", f"{cost.peak_memory_mb:.0f} MB ({cost.memory_kind})"),
        ("trainable params", f"{cost.trainable_params:,} of {cost.total_params:,} ({share:.3f}%)"),
        ("adapter size", f"{cost.adapter_bytes / 1024:.1f} KiB"),
        ("FLOPs (estimate)", f"{cost.flops_estimate:.3g}"),
        ("feature cache", f"saved {cost.cache_seconds_saved:.2f} s ({cost.cache_hits} hits)"
         if cost.feature_cache else record.train.cache_note or "off"),
        ("prompt template", _template_line(record.prompt_template)),
        ("device", f"{record.device['device']} {record.device['dtype']}"),
        ("written to", record.out_dir or "-"),
    ]
    if record.best is not None:
        best = record.best
        rows.insert(-1, ("best (validation)", f"{best['metric']} {best['value']:.4f} at step {best['step']}"
                         + (f" -> {best['checkpoint']}" if best.get("checkpoint") else "")))
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if record.metrics is not None:
        from pefomed.evaluation import EvalResult, metrics_table

        console.print(metrics_table(EvalResult.from_dict(record.metrics)))
