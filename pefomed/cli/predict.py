"""``pefomed predict``: answer questions about images with a model (optionally + a trained adapter)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from pefomed.cli.app import main
from pefomed.errors import PefomedError

DEFAULT_MODEL = "medvlm-tiny"


@main.command("predict")
@click.option("--model", help=f"registered name, folder or hub id (default: the adapter's model, else {DEFAULT_MODEL})")
@click.option("--family", help="model family, when the checkpoint's config does not say (see `pefomed ls models`)")
@click.option("--adapter-dir", type=click.Path(path_type=Path),
              help="a saved adapter, or a run folder from `pefomed train` (its adapter/ is used)")
@click.option("--image", "images", multiple=True, type=click.Path(path_type=Path),
              help="an image file, or a folder of images (repeat; pairs with --question in order)")
@click.option("--question", "questions", multiple=True,
              help="a question (repeat; one question is asked of every image)")
@click.option("--questions", "question_file", type=click.Path(path_type=Path),
              help="a JSON/JSONL/CSV file (or a folder holding one) of image + question rows; answers ignored")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--max-new-tokens", type=int, default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the answers as JSON instead of a table")
def predict_cmd(model, family, adapter_dir, images, questions, question_file, batch_size, max_new_tokens,
                as_json) -> None:
    """Answer each --image/--question pair (or a --questions file) and print the answers."""
    from pefomed.evaluation import predict

    items = _questions(images, questions, question_file)
    target = _target(model, family, adapter_dir)
    preds = predict(target, items, batch_size=batch_size, max_new_tokens=max_new_tokens, progress=not as_json)
    rows = [{"id": p.id, "image": _image_name(q), "question": p.question, "answer": p.prediction}
            for q, p in zip(items, preds)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{getattr(target, 'bundle', target).name}"
                        f"{' + ' + str(adapter_dir) if adapter_dir else ''}")
    for column in ("id", "image", "question", "answer"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(row[c] for c in ("id", "image", "question", "answer")))
    Console().print(table)


def _questions(images, questions, question_file) -> list:
    from pefomed.evaluation.questions import Question, image_files, load_questions

    if question_file is not None:
        if images or questions:
            raise PefomedError("give either --questions FILE or --image/--question pairs, not both")
        return load_questions(question_file)
    paths: list[Path] = []
    for image in images:
        if image.is_dir():
            found = image_files(image)
            if not found:
                raise PefomedError(f"--image {image} is a folder without image files; give image files")
            paths.extend(found)
        elif image.is_file():
            paths.append(image)
        else:
            raise PefomedError(f"--image {image} does not exist; give an image file or a folder of images")
    if not paths or not questions:
        raise PefomedError("nothing to answer: give --image PATH --question TEXT (repeatable) or --questions FILE")
    if len(questions) == 1:
        questions = questions * len(paths)
    if len(questions) != len(paths):
        raise PefomedError(f"{len(paths)} image(s) but {len(questions)} question(s); give one question per "
                           "image, or one question for all")
    if any(not q.strip() for q in questions):
        raise PefomedError("--question must not be empty; ask something")
    return [Question(image=p, question=q.strip(), id=str(i + 1)) for i, (p, q) in enumerate(zip(paths, questions))]


def _target(model, family, adapter_dir):
    from pefomed.models.registry import create_model

    if adapter_dir is None:
        return create_model(model or DEFAULT_MODEL, family=family)
    from pefomed.export.source import load_adapted_source, resolve_adapter_source

    return load_adapted_source(resolve_adapter_source(adapter_dir), model=model, family=family)


def _image_name(item) -> str:
    return str(item.image) if isinstance(item.image, (str, Path)) else "(in memory)"
