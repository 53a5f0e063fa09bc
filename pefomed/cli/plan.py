"""``pefomed plan MODEL --adapter METHOD|all``: will this fine-tune fit, at what batch size?"""
from __future__ import annotations

import json
import re

import click

from pefomed.cli.app import main, parse_set_options

GIB = 1024 ** 3


def parse_memory(text: str) -> float:
    """``24GB`` / ``24GiB`` / ``80G`` / ``16000MB`` -> bytes (GB means GiB, as cards are sold)."""
    from pefomed.errors import PefomedError

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(g|gb|gib|m|mb|mib)?\s*", text.lower())
    if not m:
        raise PefomedError(f"--gpu must be a size such as 24GB or 80GB, but got {text!r}")
    value, unit = float(m.group(1)), (m.group(2) or "gb")
    return value * (GIB if unit.startswith("g") else 1024 ** 2)


@main.command("plan")
@click.argument("model")
@click.option("--adapter", "method", required=True, help="adapter method, or 'all' for the whole catalogue")
@click.option("--parts", default="language", show_default=True, help="comma-separated: vision,projector,language")
@click.option("--layers", default="attention", show_default=True, help="attention | mlp | all-linear")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="override a setting (repeatable)")
@click.option("--train-projector", is_flag=True, help="also train the projector fully")
@click.option("--batch-size", default=1, show_default=True, type=int)
@click.option("--image-size", default=None, type=int, help="image side in pixels (default: the model's)")
@click.option("--max-pixels", default=None, type=int,
              help="cap on pixels per image (Qwen2-VL/2.5-VL, Idefics3/SmolVLM), as in `pefomed train`")
@click.option("--prompt-tokens", default=32, show_default=True, type=int, help="question + template tokens")
@click.option("--max-answer-tokens", default=16, show_default=True, type=int)
@click.option("--dtype", default="bf16", show_default=True, type=click.Choice(["bf16", "fp16", "fp32"]))
@click.option("--gradient-checkpointing", is_flag=True)
@click.option("--optimizer", default="adamw", show_default=True,
              type=click.Choice(["adamw", "adamw-8bit", "paged-adamw-8bit"]))
@click.option("--gpu", default=None, help="card memory, e.g. 24GB (CUDA context counted on top)")
@click.option("--memory-mb", default=None, type=float, help="memory budget in MiB instead of --gpu")
@click.option("--cpu", is_flag=True, help="plan a CPU run (no CUDA context, CPU allocator overhead)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def plan_cmd(model: str, method: str, parts: str, layers: str, sets: tuple[str, ...], train_projector: bool,
             batch_size: int, image_size: int | None, max_pixels: int | None, prompt_tokens: int,
             max_answer_tokens: int, dtype: str, gradient_checkpointing: bool, optimizer: str, gpu: str | None,
             memory_mb: float | None, cpu: bool, as_json: bool) -> None:
    """Plan the peak memory of one training step of METHOD on MODEL, without loading weights."""
    from pefomed.adapters import list_adapters
    from pefomed.errors import PefomedError
    from pefomed.plan import PlanRequest, plan

    if gpu and memory_mb is not None:
        raise PefomedError("give --gpu or --memory-mb, not both")
    cap = parse_memory(gpu) if gpu else (memory_mb * 1024 ** 2 if memory_mb is not None else None)
    settings = tuple(sorted(parse_set_options(sets).items()))
    methods = list_adapters() if method == "all" else [method]
    records, skipped = [], []
    for name in methods:
        request = PlanRequest(model, name, parts=tuple(p.strip() for p in parts.split(",") if p.strip()),
                              layers=layers, settings=settings if method != "all" else (),
                              train_projector=train_projector, batch_size=batch_size, image_size=image_size,
                              max_pixels=max_pixels,
                              prompt_tokens=prompt_tokens, max_answer_tokens=max_answer_tokens, dtype=dtype,
                              gradient_checkpointing=gradient_checkpointing, optimizer=optimizer,
                              device="cpu" if cpu else "cuda", memory_bytes=cap)
        try:
            records.append(plan(request))
        except PefomedError as exc:
            if method != "all":
                raise
            skipped.append({"method": name, "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one method that cannot build must not hide the others
            if method != "all":
                raise
            skipped.append({"method": name, "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
    if as_json:
        click.echo(json.dumps({"plans": records, "skipped": skipped}, indent=2, default=str))
        return
    render(records, skipped)


def _gb(x: float | None) -> str:
    return "" if x is None else f"{x / GIB:.2f}"


def render(records: list[dict], skipped: list[dict]) -> None:
    """The plans as a rich table (a pure function of the records)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 150))
    if not records:
        console.print("no method could be planned")
    else:
        r0 = records[0]
        req = r0["request"]
        console.print(f"[bold]{r0['model']}[/] ({r0['family']}): batch {req['batch_size']}, "
                      f"{r0['tokens']['lm_per_example']} LM tokens/example "
                      f"({r0['tokens']['vision_per_example']} in the vision tower), {req['dtype']}, "
                      f"optimizer {req['optimizer']}, gradient checkpointing "
                      f"{'on' if req['gradient_checkpointing'] else 'off'}; sizes in GiB", highlight=False)
        table = Table(title="planned peak memory of one training step")
        cols = ("method", "trainable", "weights", "grads", "optim", "activ.", "activ. (gc)", "logits",
                "other", "peak", "fits", "max batch")
        for c in cols:
            table.add_column(c, justify="left" if c == "method" else "right")
        for r in records:
            b = r["bytes"]
            other = b["optimizer_temp"] + b["workspace"] + b["overhead"] + b["cuda_context"]
            fits = "" if r["fits"] is None else ("[green]yes[/]" if r["fits"] else "[red]no[/]")
            table.add_row(r["method"], f"{r['trainable_parameters']:,}", _gb(b["weights"]), _gb(b["gradients"]),
                          _gb(b["optimizer"]), _gb(b["activations_no_gc"]), _gb(b["activations_gc"]), _gb(b["logits"]),
                          _gb(other), f"[bold]{_gb(r['card_bytes'])}[/]", fits,
                          "" if r["largest_batch"] is None else str(r["largest_batch"]))
        console.print(table)
        quant = [r for r in records if any("nf4" in k or "4-bit" in k for k in r["weights_by_part"])]
        for r in quant:
            parts = ", ".join(f"{k} {_gb(v)}" for k, v in r["weights_by_part"].items())
            console.print(f"{r['method']} weights by part: {parts}; kept in {req['dtype']}: "
                          f"{', '.join(r['kept_full_precision']) or 'none'}", highlight=False)
        console.print("peak = weights + optimizer + max(activations + logits, gradients + optimizer step "
                      "temporary) + one layer's workspace + overhead; 'other' = optimizer temporary + workspace "
                      "+ allocator overhead + CUDA context. Formulas: pefomed/plan/memory.py", highlight=False)
    for s in skipped:
        console.print(f"[yellow]not planned[/] {s['method']}: {s['reason']}", highlight=False)
