"""LLaVA conversation files and LLaVA-Med question files load as generic files, without a mapping."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pefomed.data import load_dataset
from pefomed.errors import PefomedError
from tests.data.conftest import write_image, write_json


def _conversations(folder, n_images: int = 6) -> list[dict]:
    rows = []
    for i in range(n_images):
        write_image(folder / "img" / f"{i}.png", shade=30 * i, size=(32, 32))
        rows.append({"id": f"c{i}", "image": f"img/{i}.png", "conversations": [
            {"from": "human", "value": "<image>\nIs there a lesion?"},
            {"from": "gpt", "value": "yes" if i % 2 else "no"},
            {"from": "human", "value": "Which organ is shown?"},
            {"from": "gpt", "value": "liver"}]})
    return rows


def test_conversations_give_one_record_per_pair(tmp_path):
    path = write_json(tmp_path / "llava.json", _conversations(tmp_path, 2))
    split = load_dataset(str(path))
    assert [r.id for r in split] == ["c0-0", "c0-1", "c1-0", "c1-1"]
    first, second = split.records[:2]
    assert (first.question, first.answer, first.answer_type) == ("Is there a lesion?", "no", "closed")
    assert (second.question, second.answer, second.answer_type) == ("Which organ is shown?", "liver", "open")
    assert first.image == tmp_path / "img" / "0.png" and first.image_id == "img/0.png"


def test_images_relative_to_a_root_and_broken_conversations(tmp_path):
    rows = _conversations(tmp_path / "data", 1)
    path = write_json(tmp_path / "ann" / "llava.json", rows)
    assert len(load_dataset(str(path), root=tmp_path / "data")) == 2
    rows[0]["conversations"].pop()  # the last human turn has no answer
    write_json(path, rows)
    with pytest.raises(PefomedError, match="record 0 \\(id 'c0'\\): conversation turn 2 has no gpt answer"):
        load_dataset(str(path), root=tmp_path / "data")
    split = load_dataset(str(path), root=tmp_path / "data", on_bad_record="skip")
    assert [r.id for r in split] == ["c0-0"] and split.skipped == 1


def test_llava_med_question_file(tmp_path):
    write_image(tmp_path / "17.jpg")
    lines = [{"question_id": 17, "image": "17.jpg", "text": "<image>\nWhat organ is shown?",
              "gpt4_answer": "The liver.", "domain": "ct"},
             {"question_id": 18, "image": "17.jpg", "text": "Is it normal?", "answer": "yes"}]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines))
    split = load_dataset(str(path))
    assert [(r.id, r.question, r.answer, r.answer_type) for r in split] == [
        ("17", "What organ is shown?", "The liver.", "open"), ("18", "Is it normal?", "yes", "closed")]
    assert split.records[0].extra["domain"] == "ct"


def test_a_conversation_file_trains_and_evaluates_on_a_held_out_part(tmp_path):
    from pefomed.cli import main

    path = write_json(tmp_path / "llava.json", _conversations(tmp_path, 10))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--model", "tiny-llava", "--dataset", str(path), "--adapter", "lora",
                                       "--max-steps", "2", "--batch-size", "2", "--device", "cpu", "--set", "r=2",
                                       "--holdout-fraction", "0.2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "has no splits: 4 records on 2 of 10 images held out for evaluation (seed 0)" in result.output
    run = json.loads((out / "run.json").read_text())
    assert run["datasets"]["holdout"] == {"fraction": 0.2, "seed": 0, "images": 2, "of_images": 10,
                                          "records": 4, "of_records": 20}
    assert run["datasets"]["train"]["n"] == 16 and run["datasets"]["eval"]["n"] == 4
    assert run["datasets"]["overlap"] == 0 and run["metrics"]["n"] == 4
    assert run["datasets"]["train"]["fingerprint"] != run["datasets"]["eval"]["fingerprint"]
    again = CliRunner().invoke(main, ["eval", "--adapter-dir", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["n"] == 4  # the same held-out part, not the whole file
    whole = CliRunner().invoke(main, ["eval", "--adapter-dir", str(out), "--dataset", str(path)])
    assert whole.exit_code == 0, whole.output
    assert "note: 16 of 20 evaluation records ask a question that training also asks" in whole.output


def test_evaluating_on_training_records_is_loud(tmp_path):
    from pefomed.train import Budget, RunSpec, TrainConfig
    from pefomed.train.data import load_run_data

    path = write_json(tmp_path / "llava.json", _conversations(tmp_path, 4))
    spec = RunSpec(model="tiny-llava", dataset=str(path), adapter="lora", eval_dataset=str(path),
                   train=TrainConfig(device="cpu"), budget=Budget(max_steps=1))
    with pytest.warns(UserWarning, match="EVALUATING ON TRAINING RECORDS: all 8 evaluation records"):
        data = load_run_data(spec)
    assert data.overlap == 8 and data.holdout is None


def test_sweep_spec_takes_the_data_and_input_fields():
    from pefomed.sweep.spec import SpecError
    from pefomed.sweep.validate import parse_spec

    raw = {"model": "tiny-llava", "dataset": {"name": "slake", "language": "all", "on_bad_record": "error",
                                              "fields": {"image": "img"}},
           "adapters": ["lora"], "budget": {"max_steps": 1}, "n_trials": 1, "prompt_template": "Q: {question} A:",
           "max_pixels": 4096}
    spec = parse_spec(raw)
    assert spec.dataset.load_options() == {"root": None, "on_bad_record": "error", "fields": {"image": "img"},
                                           "language": "all"}
    assert spec.prompt_template == "Q: {question} A:" and spec.comparability_key()["max_pixels"] == 4096
    with pytest.raises(SpecError, match="dataset.on_bad_record: unknown on_bad_record policy 'drop'"):
        parse_spec({**raw, "dataset": {"name": "slake", "on_bad_record": "drop"}})


def test_a_sweep_on_a_file_without_splits_holds_out_search_and_report_images(tmp_path):
    from pefomed.sweep.runner import RecipeRunner
    from pefomed.sweep.validate import parse_spec

    path = write_json(tmp_path / "llava.json", _conversations(tmp_path, 20))
    spec = parse_spec({"model": "tiny-llava", "dataset": str(path), "adapters": ["lora"],
                       "budget": {"max_steps": 1}, "n_trials": 1})
    runner = RecipeRunner(spec)
    images = {k: {r.image_id for r in runner.split(k)} for k in ("train", "search", "report")}
    assert [len(images[k]) for k in ("train", "search", "report")] == [16, 2, 2]
    assert not images["train"] & images["search"] and not images["train"] & images["report"]
    assert not images["search"] & images["report"]
