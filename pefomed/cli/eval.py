"""``pefomed eval``: score a model (optionally with a trained adapter) on a Med-VQA split."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pefomed.cli.app import main
from pefomed.cli.inputs import data_options, echo_notes, input_options, parse_fields
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
@click.option("--protocols",
              help="comma-separated protocols or peer families (llava-med, pefomed-paper, vqa, mevf); "
                   "default: pefomed's own set")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--max-new-tokens", type=int, default=8, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="subset and bootstrap seed")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON instead of tables")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="write predictions.jsonl and metrics.json here")
@data_options
@input_options
def eval_cmd(model, family, adapter_dir, dataset, split, limit, protocols, batch_size, max_new_tokens, seed,
             as_json, out_dir, dataset_root, field_pairs, language, on_bad_record, prompt_template,
             image_size, max_pixels) -> None:
    """Evaluate MODEL [+ adapter] on DATASET/SPLIT: metrics by protocol, each peer family as its
    script prints it, the majority-answer baseline beside every closed accuracy, and breakdowns."""
    from pefomed.evaluation import breakdown_table, evaluate, family_table, metrics_table, resolve_protocols
    from pefomed.evaluation.table import breakdown_protocols, own_protocols, scored_families
    from pefomed.models.prompts import apply_template, template_of
    from pefomed.models.registry import check_family, create_model
    from pefomed.models.resolution import apply_resolution, check_resolution

    check_resolution(image_size, max_pixels)
    adapter_path, run = _resolve_adapter_dir(adapter_dir)
    model = model or (run["spec"]["model"] if run else DEFAULT_MODEL)
    family = family or (run["spec"].get("family") if run else None)
    check_family(model, family)  # before the data loads
    options = {"root": dataset_root, "on_bad_record": on_bad_record, "fields": parse_fields(field_pairs),
               "language": language}
    options = {k: v for k, v in options.items() if v is not None}
    names = [p.strip() for p in protocols.split(",") if p.strip()] if protocols else None
    protocol_list = resolve_protocols(names)  # an unknown name fails here, before any data or model
    data, notes = _eval_data(run, dataset, split, limit, seed, options)
    train_answers = None
    if any(p.prepare is not None for p in protocol_list):  # MEVF's answer list
        train_answers = [(r.answer, r.answer_type) for r in _train_records(run, dataset, data.dataset, options)]
    dataset, split = data.dataset, data.split
    bundle = create_model(model, family=family, seed=run["spec"]["seed"] if run else 0)
    target = bundle
    if adapter_path is not None:
        from pefomed.adapters import load_adapted

        target = load_adapted(bundle, adapter_path)  # reapplies the adapter's prompt template and resolution
    if prompt_template is not None or adapter_path is None:
        apply_template(bundle, prompt_template)
    apply_resolution(bundle, image_size=image_size, max_pixels=max_pixels)
    result = evaluate(target, data.records, out_dir=out_dir, protocols=names, batch_size=batch_size,
                      max_new_tokens=max_new_tokens, seed=seed, progress=not as_json,
                      train_answers=train_answers)
    if as_json:
        click.echo(json.dumps({"model": model, "adapter_dir": str(adapter_path) if adapter_path else None,
                               "dataset": data.summary(), "prompt_template": template_of(bundle).to_dict(),
                               "notes": notes, **result.to_dict()}, indent=2))
        return
    echo_notes(notes)
    from rich.console import Console

    console = Console()
    title = f"{model}{' + ' + str(adapter_path) if adapter_path else ''} on {dataset}/{split} (n={result.n})"
    own = own_protocols(result)
    if own:
        console.print(metrics_table(result, title=title, protocols=own))
    else:
        console.print(title)
    for family in scored_families(result):
        console.print(family_table(result, family))
    for field in result.breakdown:
        console.print(breakdown_table(result, field, protocols=breakdown_protocols(result)))
    if out_dir is not None:
        console.print(f"predictions and metrics written to {out_dir}")


def _eval_data(run: dict | None, dataset: str | None, split: str, limit: int | None, seed: int,
               options: dict) -> tuple[Any, list[str]]:
    """The split to score and the notes to print. A run folder's own data comes with its dataset
    options, and its held-out part when its dataset had no splits; any overlap with the run's
    training records is noted (loudly when the eval records are all training records)."""
    import warnings

    from pefomed.data import load_dataset
    from pefomed.train.data import dataset_kwargs, load_run_eval, load_run_train, overlap_notes
    from pefomed.train.recipe import RunSpec

    spec = RunSpec.from_dict(run["spec"]) if run else None
    notes: list[str] = []
    if spec is not None and dataset is None and (run.get("datasets") or {}).get("holdout"):
        data = load_run_eval(spec, limit=limit)
        notes.append(f"scoring the run's held-out part of {data.dataset} ({len(data)} records)")
        return data, notes
    if spec is not None and dataset is None:
        inherited = {k: v for k, v in dataset_kwargs(spec).items() if k != "seed" and v is not None}
        options = {**inherited, **options}
    data = load_dataset(dataset or (spec.dataset if spec else DEFAULT_DATASET), split, limit=limit, seed=seed,
                        **options)
    if data.skip_note():
        notes.append(data.skip_note())
    if spec is not None:
        with warnings.catch_warnings():  # the CLI says it in red; no Python warning on top
            warnings.simplefilter("ignore")
            notes += overlap_notes(load_run_train(spec), data)
    return data, notes


def _train_records(run: dict | None, dataset: str | None, scored: str, options: dict) -> list:
    """The training records behind an answer list: a run's own (its field mapping and dataset
    options, without its held-out part) when the run's data is scored, else ``scored``'s train split."""
    if run is not None and dataset is None:
        from pefomed.train.data import load_run_train
        from pefomed.train.recipe import RunSpec

        return load_run_train(RunSpec.from_dict(run["spec"])).records
    from pefomed.data import load_dataset

    return load_dataset(scored, "train", **options).records


def _resolve_adapter_dir(adapter_dir: Path | None) -> tuple[Path | None, dict | None]:
    """(adapter folder, run record dict or None) for an adapter folder or a run folder."""
    if adapter_dir is None:
        return None, None
    if not adapter_dir.is_dir():
        raise PefomedError(f"--adapter-dir {adapter_dir} is not a folder; give a saved adapter or a "
                           "run folder written by `pefomed train`")
    if not (adapter_dir / "run.json").is_file() and (adapter_dir.parent / "run.json").is_file() \
            and adapter_dir.name == "adapter":
        adapter_dir = adapter_dir.parent  # the adapter folder of a run: the run knows its model and data
    run_file = adapter_dir / "run.json"
    if run_file.is_file():
        run = json.loads(run_file.read_text(encoding="utf-8"))
        if not (adapter_dir / "adapter").is_dir():
            raise PefomedError(f"run folder {adapter_dir} has no adapter/ (status {run.get('status')!r}, "
                               f"stop {run.get('stop_reason')!r}); nothing to evaluate")
        return adapter_dir / "adapter", run
    return adapter_dir, None
