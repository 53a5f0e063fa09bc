"""``pefomed train``: one budgeted fine-tuning run, evaluated, written to a run folder."""
from __future__ import annotations

import json
import time

import click

from pefomed.cli.app import main, parse_parts, parse_set_options
from pefomed.cli.inputs import data_options, echo_notes, input_options, parse_fields

DEFAULT_MODEL = "medvlm-tiny"
DEFAULT_DATASET = "synth-rad"
#: used when no budget option is given, so ``pefomed train --adapter lora`` just works
DEFAULT_MAX_STEPS = 200


@main.command("train")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="registered name, folder or hub id")
@click.option("--family", help="model family, when the checkpoint's config does not name one (see `pefomed ls models`)")
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True, help="registered name or path")
@click.option("--adapter", required=True, help="adapter method (see `pefomed ls adapters`)")
@click.option("--parts", multiple=True, help="model parts to adapt: vision, projector, language "
              "(repeat or comma-separate; default language)")
@click.option("--layers", default="attention", show_default=True, help="attention, mlp or all-linear")
@click.option("--set", "set_pairs", multiple=True, metavar="KEY=VALUE",
              help="adapter setting, e.g. --set r=16")
@click.option("--train-projector", is_flag=True, help="also train the projector fully")
@click.option("--max-steps", type=int, help="budget: optimizer steps")
@click.option("--max-samples", type=int, help="budget: training examples")
@click.option("--max-seconds", type=float, help="budget: wall-clock seconds of training")
@click.option("--max-device-seconds", type=float, help="budget: GPU-seconds (CPU-seconds on a CPU)")
@click.option("--max-memory-mb", type=float, help="peak memory cap; crossing it fails the run")
@click.option("--lr", type=float, help="learning rate (default: the adapter's catalogue rate, "
              "scaled up for registered small models such as medvlm-tiny)")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--grad-accum", type=int, default=1, show_default=True)
@click.option("--epochs", type=int, default=3, show_default=True, help="cap; the budget usually stops first")
@click.option("--scheduler", default="linear", show_default=True, help="linear, cosine or constant")
@click.option("--warmup-ratio", type=float, default=0.0, show_default=True)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, mps")
@click.option("--dtype", default="auto", show_default=True, help="auto, fp32 or bf16")
@click.option("--gradient-checkpointing", is_flag=True)
@click.option("--train-split", default="train", show_default=True)
@click.option("--eval-split", default="test", show_default=True)
@click.option("--train-limit", type=int, help="train on a seeded subset of this many records")
@click.option("--eval-limit", type=int, help="evaluate on a seeded subset of this many records")
@click.option("--protocols", help="comma-separated scoring protocols (default: the standard set)")
@click.option("--out", "out_dir", help="run folder to write (default runs/<model>-<adapter>-<time>)")
@click.option("--feature-cache/--no-feature-cache", default=True, show_default=True,
              help="compute frozen image features once per image (exact; off when the tower trains)")
@click.option("--json", "as_json", is_flag=True, help="print the run record as JSON instead of tables")
@data_options
@click.option("--eval-dataset", help="evaluate on this dataset/file (default: --dataset's --eval-split; "
              "a file without splits holds out --holdout-fraction of its images)")
@click.option("--holdout-fraction", type=float, default=0.1, show_default=True,
              help="share of images held out for evaluation when --dataset has no splits")
@input_options
def train_cmd(model, family, dataset, adapter, parts, layers, set_pairs, train_projector, max_steps, max_samples,
              max_seconds, max_device_seconds, max_memory_mb, lr, batch_size, grad_accum, epochs, scheduler,
              warmup_ratio, weight_decay, seed, device, dtype, gradient_checkpointing, train_split,
              eval_split, train_limit, eval_limit, protocols, out_dir, feature_cache, as_json,
              dataset_root, field_pairs, language, on_bad_record, eval_dataset, holdout_fraction,
              prompt_template, image_size, max_pixels) -> None:
    """Fine-tune MODEL with ADAPTER on DATASET within a budget, evaluate, write a run folder."""
    from pefomed.train import Budget, FeatureCache, RunSpec, TrainConfig, run_finetune

    from pefomed.models.registry import default_learning_rate

    if lr is None:
        lr = default_learning_rate(model, adapter)
    limits = dict(max_steps=max_steps, max_samples=max_samples, max_seconds=max_seconds,
                  max_device_seconds=max_device_seconds, max_memory_mb=max_memory_mb)
    if all(v is None for k, v in limits.items() if k != "max_memory_mb"):
        limits["max_steps"] = DEFAULT_MAX_STEPS
    spec = RunSpec(
        model=model, family=family, dataset=dataset, adapter=adapter, train_split=train_split, eval_split=eval_split,
        parts=parse_parts(parts) or ("language",), layers=layers, settings=parse_set_options(set_pairs),
        train_projector=train_projector,
        train=TrainConfig(lr=lr, batch_size=batch_size, grad_accum=grad_accum, epochs=epochs,
                          scheduler=scheduler, warmup_ratio=warmup_ratio, weight_decay=weight_decay,
                          seed=seed, device=device, dtype=dtype,
                          gradient_checkpointing=gradient_checkpointing),
        budget=Budget(**limits), train_limit=train_limit, eval_limit=eval_limit,
        protocols=_split_csv((protocols,)) if protocols else None, seed=seed,
        out_dir=out_dir or _default_out(model, adapter),
        prompt_template=prompt_template, image_size=image_size, max_pixels=max_pixels,
        dataset_root=dataset_root, fields=parse_fields(field_pairs), language=language,
        on_bad_record=on_bad_record, eval_dataset=eval_dataset, holdout_fraction=holdout_fraction,
    )
    record = run_finetune(spec, progress=not as_json, feature_cache=FeatureCache() if feature_cache else None)
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2))
    else:
        _print_summary(record)
        echo_notes(record.notes)  # with --json they are in the record
    if record.status != "ok":
        raise SystemExit(1)


def _split_csv(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


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
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if record.metrics is not None:
        from pefomed.evaluation import EvalResult, metrics_table

        console.print(metrics_table(EvalResult.from_dict(record.metrics)))
