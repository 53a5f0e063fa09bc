"""``pefomed eval``: score a model (optionally with a trained adapter) on a Med-VQA split."""
from __future__ import annotations

import json
from pathlib import Path

import click

from pefomed.cli.app import main
from pefomed.errors import PefomedError

DEFAULT_MODEL = "medvlm-tiny"
DEFAULT_DATASET = "synth-rad"


@main.command("eval")
@click.option("--model",
              help=f"registered name, folder or hub id (default: the run's model, else {DEFAULT_MODEL})")
@click.option("--family", help="model family, when the checkpoint's config does not name one (see `pefomed ls models`)")
@click.option("--adapter-dir", type=click.Path(path_type=Path),
              help="a saved adapter, or a run folder from `pefomed train` (its adapter/ is used)")
@click.option("--dataset",
              help=f"registered name or path (default: the run's dataset, else {DEFAULT_DATASET})")
@click.option("--split", default="test", show_default=True)
@click.option("--limit", type=int, help="score a seeded subset of this many records")
@click.option("--protocols", help="comma-separated scoring protocols (default: the standard set)")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--max-new-tokens", type=int, default=8, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="subset and bootstrap seed")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON instead of tables")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="write predictions.jsonl and metrics.json here")
def eval_cmd(model, family, adapter_dir, dataset, split, limit, protocols, batch_size, max_new_tokens, seed,
             as_json, out_dir) -> None:
    """Evaluate MODEL [+ adapter] on DATASET/SPLIT: metrics by protocol and breakdowns."""
    from pefomed.data import load_dataset
    from pefomed.evaluation import breakdown_table, evaluate, metrics_table
    from pefomed.models.registry import check_family, create_model

    adapter_path, run = _resolve_adapter_dir(adapter_dir)
    model = model or (run["spec"]["model"] if run else DEFAULT_MODEL)
    dataset = dataset or (run["spec"]["dataset"] if run else DEFAULT_DATASET)
    family = family or (run["spec"].get("family") if run else None)
    check_family(model, family)  # before the data loads
    data = load_dataset(dataset, split, limit=limit, seed=seed)
    bundle = create_model(model, family=family, seed=run["spec"]["seed"] if run else 0)
    target = bundle
    if adapter_path is not None:
        from pefomed.adapters import load_adapted

        target = load_adapted(bundle, adapter_path)
    names = [p.strip() for p in protocols.split(",") if p.strip()] if protocols else None
    result = evaluate(target, data.records, out_dir=out_dir, protocols=names, batch_size=batch_size,
                      max_new_tokens=max_new_tokens, seed=seed, progress=not as_json)
    if as_json:
        click.echo(json.dumps({"model": model, "adapter_dir": str(adapter_path) if adapter_path else None,
                               "dataset": data.summary(), **result.to_dict()}, indent=2))
        return
    from rich.console import Console

    console = Console()
    title = f"{model}{' + ' + str(adapter_path) if adapter_path else ''} on {dataset}/{split} (n={result.n})"
    console.print(metrics_table(result, title=title))
    for field in result.breakdown:
        console.print(breakdown_table(result, field))
    if out_dir is not None:
        console.print(f"predictions and metrics written to {out_dir}")


def _resolve_adapter_dir(adapter_dir: Path | None) -> tuple[Path | None, dict | None]:
    """(adapter folder, run record dict or None) for an adapter folder or a run folder."""
    if adapter_dir is None:
        return None, None
    if not adapter_dir.is_dir():
        raise PefomedError(f"--adapter-dir {adapter_dir} is not a folder; give a saved adapter or a "
                           "run folder written by `pefomed train`")
    run_file = adapter_dir / "run.json"
    if run_file.is_file():
        run = json.loads(run_file.read_text(encoding="utf-8"))
        if not (adapter_dir / "adapter").is_dir():
            raise PefomedError(f"run folder {adapter_dir} has no adapter/ (status {run.get('status')!r}, "
                               f"stop {run.get('stop_reason')!r}); nothing to evaluate")
        return adapter_dir / "adapter", run
    return adapter_dir, None
