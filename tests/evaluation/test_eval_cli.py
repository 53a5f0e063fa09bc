"""``pefomed eval --protocols FAMILY,...``: per-family tables with the peers' labels and rounding,
the majority baseline beside closed accuracies, and one-line errors."""
from __future__ import annotations

import json

from click.testing import CliRunner

from pefomed.cli import main

TINY = ["eval", "--model", "tiny-llava", "--dataset", "synth-rad", "--limit", "6"]


def test_eval_prints_one_table_per_family_and_records_baselines(tmp_path):
    result = CliRunner().invoke(main, [*TINY, "--protocols", "llava-med,pefomed-paper,vqa,mevf,closed-lenient",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    for words in ("microsoft/LLaVA-Med@b9a98a7", "jinlHe/PeFoMed@5242449", "aioz-ai/MICCAI19-MedVQA",
                  "yes/no accuracy", "bleu_score_1", "CLOSED", "Overall", "vqa-overall", "closed-lenient",
                  "majority"):
        assert words in out, (words, out)
    m = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert {"mevf-all", "llava-med-closed-e9972cf", "pefomed-paper-overall", "closed-lenient"} <= set(m)
    closed = m["pefomed-paper-closed"]
    assert closed["majority"]["answer"] in {"yes", "no"} and 0.5 <= closed["majority"]["value"] <= 1.0
    assert closed["total"] == closed["value"] * closed["n"] and "majority" not in m["pefomed-paper-open"]


def test_mevf_on_a_run_over_a_mapped_file_takes_the_answer_list_from_the_runs_training_records(tmp_path):
    from tests.train.conftest import make_records

    rows = []
    for r in make_records(40, images=20):
        if not (tmp_path / f"{r.image_id}.png").exists():
            r.image.save(tmp_path / f"{r.image_id}.png")
        rows.append({"img_path": f"{r.image_id}.png", "query": r.question, "label": r.answer})
    (tmp_path / "mine.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    run = tmp_path / "run"
    trained = CliRunner().invoke(main, ["train", "--model", "tiny-llava", "--dataset", str(tmp_path / "mine.jsonl"),
                                        "--field", "image=img_path", "--field", "question=query",
                                        "--field", "answer=label", "--adapter", "lora", "--max-steps", "1",
                                        "--batch-size", "2", "--device", "cpu", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    result = CliRunner().invoke(main, ["eval", "--adapter-dir", str(run), "--protocols", "mevf", "--json"])
    assert result.exit_code == 0, result.output  # the answer list was read without the run's --field mapping
    scored = json.loads(result.output[result.output.index("{"):])
    held_out = json.loads((run / "run.json").read_text())["datasets"]["eval"]["n"]
    assert scored["metrics"]["mevf-all"]["n"] == held_out


def test_unknown_family_is_a_one_line_error():
    result = CliRunner().invoke(main, [*TINY, "--protocols", "llava-mde"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "did you mean 'llava-med'" in lines[0], result.output
