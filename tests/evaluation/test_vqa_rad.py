"""Scoring on the real VQA-RAD test split (451 questions): references against themselves and a
constant "yes" baseline, whose closed accuracy is exactly the share of "yes" answers."""
import json

import pytest

from pefomed.data.record import VQARecord
from pefomed.evaluation import normalize_answer, score

pytestmark = pytest.mark.vqarad


@pytest.fixture(scope="module")
def records(vqa_rad_root):
    items = json.loads((vqa_rad_root / "testset.json").read_text())
    return [VQARecord(id=str(it["qid"]), question=it["question"], answer=str(it["answer"]),
                      answer_type=it["answer_type"].strip().lower(), image=vqa_rad_root / "images" / it["image_name"],
                      question_type=it["question_type"], organ=it["image_organ"].lower())
            for it in items]


def test_references_score_perfectly(records):
    res = score(records, [r.answer for r in records], bootstrap=0)
    assert res.n == 451
    assert res.metrics["closed-lenient"]["n"] == 272 and res.metrics["open-exact"]["n"] == 179
    for name in ("closed-lenient", "open-exact", "open-recall", "overall-exact", "token-f1", "bleu-1"):
        assert res.metrics[name]["value"] == 1.0, name


def test_always_yes_baseline(records):
    closed = [r for r in records if r.answer_type == "closed"]
    share_yes = sum(normalize_answer(r.answer) == "yes" for r in closed) / len(closed)
    res = score(records, ["yes"] * len(records), seed=0)
    m = res.metrics["closed-lenient"]
    assert m["value"] == pytest.approx(share_yes)
    assert m["ci95"][0] < share_yes < m["ci95"][1]
    assert sum(c["n"] for c in res.breakdown["organ"].values()) == 451


def test_peer_families_on_references_and_the_majority_baseline(records):
    from pefomed.evaluation.peers.llava_med import normalize_word
    from pefomed.evaluation.peers.pefomed_paper import preprocess_answer

    res = score(records, [r.answer for r in records], bootstrap=0,
                protocols=["pefomed-paper", "vqa", "llava-med-closed", "llava-med-recall"])
    for name in ("pefomed-paper-overall", "vqa-overall", "llava-med-recall"):
        assert res.metrics[name]["value"] == 1.0, name
    closed = [r for r in records if r.answer_type == "closed"]
    # LLaVA-Med's closed rule needs "yes"/"no" in the prediction: a perfect "left" or "axial" scores 0
    says_yes_no = [("yes" in n or "no" in n) for n in (normalize_word(r.answer.lower()) for r in closed)]
    assert res.metrics["llava-med-closed"]["value"] == pytest.approx(sum(says_yes_no) / len(closed))
    assert not all(says_yes_no)
    share_no = sum(preprocess_answer(r.answer) == "no" for r in closed) / len(closed)
    assert res.metrics["pefomed-paper-closed"]["majority"] == {"answer": "no", "value": pytest.approx(share_no)}
