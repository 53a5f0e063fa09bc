"""``pefomed predict``: answers for image + question pairs, question files, adapters; --family everywhere."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from pefomed.cli import main
from pefomed.errors import PefomedError


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, colour in enumerate([(200, 10, 10), (10, 200, 10)]):
        Image.new("RGB", (32, 32), colour).save(folder / f"im{i}.png")
    return folder


def test_pairs_folder_and_question_file_give_the_same_answers(images, tmp_path):
    a, b = str(images / "im0.png"), str(images / "im1.png")
    pairs = _run("predict", "--model", "tiny-llava", "--image", a, "--image", b,
                 "--question", "is there a mass?", "--question", "which organ?", "--json")
    assert pairs.exit_code == 0, pairs.output
    rows = json.loads(pairs.stdout)
    assert [(r["id"], r["image"], r["question"]) for r in rows] == [("1", a, "is there a mass?"),
                                                                     ("2", b, "which organ?")]
    assert all(isinstance(r["answer"], str) for r in rows)
    broadcast = json.loads(_run("predict", "--model", "tiny-llava", "--image", str(images),
                                "--question", "is there a mass?", "--json").stdout)
    assert [r["image"] for r in broadcast] == [a, b] and broadcast[0]["answer"] == rows[0]["answer"]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps({"question_id": i, "image": f"imgs/im{i}.png", "text": q})
                               for i, q in enumerate(["is there a mass?", "which organ?"])))
    from_file = json.loads(_run("predict", "--model", "tiny-llava", "--questions", str(qfile), "--json").stdout)
    assert [r["answer"] for r in from_file] == [r["answer"] for r in rows]
    table = _run("predict", "--model", "tiny-llava", "--image", a, "--question", "is there a mass?")
    assert table.exit_code == 0 and "is there a mass?" in table.output and "answer" in table.output


def test_with_an_adapter_folder(images, tmp_path):
    from tests.export.conftest import saved_adapter

    adapter = saved_adapter("tiny-llava", "lora", tmp_path / "adapter", settings={"r": 2})
    result = _run("predict", "--adapter-dir", str(adapter), "--image", str(images / "im0.png"),
                  "--question", "is there a mass?", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize("args,message", [
    (("--image", "IMG", "--question", "a?", "--question", "b?", "--question", "c?"), "2 image(s) but 3 question(s)"),
    (("--question", "a?"), "nothing to answer"),
    (("--image", "missing.png", "--question", "a?"), "does not exist"),
    (("--questions", "q.jsonl", "--question", "a?"), "not both"),
    (("--image", "IMG", "--question", "a?", "--family", "lava"), "did you mean 'llava'"),
    (("--image", "IMG", "--question", "a?", "--family", "qwen2-vl"), "registered llava model"),
])
def test_bad_input_is_one_line_and_exit_2(images, args, message):
    args = tuple(str(images) if a == "IMG" else a for a in args)
    result = _run("predict", "--model", "tiny-llava", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_family_option_on_every_model_command(tmp_path):
    for command in (["train", "--adapter", "lora", "--max-steps", "1"], ["eval", "--limit", "1"],
                    ["inspect", "tiny-llava", "--adapter", "lora"]):
        if command[0] != "inspect":
            command = [*command, "--model", "tiny-llava"]
        result = _run(*command, "--family", "blip")
        assert result.exit_code == 2, (command, result.output)
        assert "registered llava model, so family 'blip' does not apply" in result.output
    from pefomed.train import RunSpec

    with pytest.raises(PefomedError, match="family must be a family name"):
        RunSpec(model="m", dataset="d", adapter="lora", family="")
    from pefomed.sweep.spec import load_spec

    assert load_spec(overrides={"family": "llava"}).family == "llava"
