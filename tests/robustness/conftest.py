"""The hostile-but-fair corpus: helpers that run a bad input and check how it ends.

Every case must end in ONE line (what, where, fix) and exit status 2 on the CLI, with nothing
written or lost; these helpers make those three checks the same everywhere.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

TINY = ["--model", "tiny-llava", "--dataset", "synth-rad", "--device", "cpu"]
QUICK = ["--max-steps", "1", "--batch-size", "2", "--train-limit", "2", "--eval-limit", "2"]


def cli(*args: str):
    """Run the CLI; returns the click Result (exceptions are caught, not raised)."""
    from pefomed.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(result, *words: str) -> str:
    """Exit 2, no traceback, one ``error:`` line that contains every one of ``words``."""
    out = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"traceback: {result.exception!r}\n{out}"
    assert result.exit_code == 2, f"exit {result.exit_code}: {out}"
    lines = [line for line in out.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, out
    for word in words:
        assert word.lower() in errors[0].lower(), f"{word!r} not in {errors[0]!r}"
    return errors[0]


def assert_one_line(exc: BaseException, *words: str) -> str:
    """The PefomedError's message is one line holding every one of ``words``."""
    from pefomed.errors import PefomedError

    assert isinstance(exc, PefomedError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert "\n" not in message and message.strip(), message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    return message


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), to prove nothing was written or lost."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_dataset(root: Path, images: dict[str, bytes | None], n: int = 4) -> Path:
    """A generic JSON dataset at ``root/data.json`` over ``images`` (name -> bytes, or None for a
    valid PNG), ``n`` records cycling over them."""
    import io

    root.mkdir(parents=True, exist_ok=True)
    names = list(images)
    for i, (name, data) in enumerate(images.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            buf = io.BytesIO()
            Image.new("RGB", (16, 16), (40 * i % 256, 80, 120)).save(buf, format="PNG")
            data = buf.getvalue()
        path.write_bytes(data)
    qa = [("is there a mass?", "yes"), ("what organ is shown?", "liver")]
    rows = [{"image": names[i % len(names)], "question": qa[i % 2][0], "answer": qa[i % 2][1]}
            for i in range(n)]
    (root / "data.json").write_text(json.dumps(rows))
    return root / "data.json"


@pytest.fixture
def tiny_adapted():
    """tiny-llava with LoRA r=4 on language attention."""
    import torch

    from pefomed.adapters import inject
    from pefomed.models.registry import create_model

    torch.manual_seed(0)
    return inject(create_model("tiny-llava"), "lora", settings={"r": 4})


@pytest.fixture
def records():
    from tests.train.conftest import make_records

    return make_records(4)
