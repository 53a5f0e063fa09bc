"""Questions without answers: the file layouts ``pefomed predict`` reads, and ``predict`` on them."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError
from pefomed.evaluation import Question, load_questions, predict
from pefomed.models.registry import create_model


@pytest.fixture
def folder(tmp_path):
    for i, colour in enumerate([(200, 10, 10), (10, 200, 10)]):
        Image.new("RGB", (32, 32), colour).save(tmp_path / f"im{i}.png")
    return tmp_path


def test_layouts_jsonl_json_csv_and_folder(folder):
    # LLaVA-Med's question file: question_id / image / text (an answer field is ignored)
    rows = [{"question_id": 7, "image": "im0.png", "text": "is there a mass?", "gpt4_answer": "no"},
            {"question_id": 8, "image": str(folder / "im1.png"), "text": "which organ?"}]
    (folder / "q.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    got = load_questions(folder / "q.jsonl")
    assert [(q.id, q.question, q.image) for q in got] == [("7", "is there a mass?", folder / "im0.png"),
                                                          ("8", "which organ?", folder / "im1.png")]
    assert load_questions(folder) == got  # a folder holding exactly one question file
    (folder / "q.jsonl").unlink()
    (folder / "q.csv").write_text("image_name,question\nim1.png,where is it?\n")
    assert [(q.id, q.question) for q in load_questions(folder / "q.csv")] == [("0", "where is it?")]
    (folder / "q.json").write_text(json.dumps([{"img_name": "im0.png", "question": "size?", "qid": "a"}]))
    assert load_questions(folder / "q.json")[0].id == "a"
    with pytest.raises(PefomedError, match="exactly one question file .* q.csv, q.json"):
        load_questions(folder)


def test_bad_rows_are_one_line_naming_the_row(folder):
    (folder / "q.jsonl").write_text(json.dumps({"image": "im0.png"}) + "\n" + json.dumps(
        {"image": "gone.png", "question": "x?"}))
    with pytest.raises(PefomedError, match=r"q.jsonl row 1: missing field\(s\) question"):
        load_questions(folder / "q.jsonl")
    (folder / "q.jsonl").write_text(json.dumps({"image": "gone.png", "question": "x?"}))
    with pytest.raises(PefomedError, match="row 1: image .*gone.png does not exist"):
        load_questions(folder / "q.jsonl")
    with pytest.raises(PefomedError, match="does not exist"):
        load_questions(folder / "nope.jsonl")


def test_predict_answers_questions_like_records(folder):
    bundle = create_model("tiny-llava")
    image = Image.open(folder / "im0.png").convert("RGB")
    records = [VQARecord(id="r", question="is there a mass?", answer="yes", answer_type="closed", image=image)]
    expected = predict(bundle, records, max_new_tokens=4)[0].prediction
    got = predict(bundle, [Question(image=folder / "im0.png", question="is there a mass?", id="q"),
                           (image, "is there a mass?"),
                           {"image": str(folder / "im0.png"), "question": "is there a mass?"}], max_new_tokens=4)
    assert [p.prediction for p in got] == [expected] * 3
    assert [p.id for p in got] == ["q", "1", "2"]
    assert all(p.reference == "" and p.answer_type == "" for p in got)
    with pytest.raises(PefomedError, match="item 0 is a str"):
        predict(bundle, ["is there a mass?"])
    with pytest.raises(PefomedError, match="the question must be non-empty"):
        predict(bundle, [(image, " ")])
