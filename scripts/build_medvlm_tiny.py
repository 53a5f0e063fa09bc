"""Pretrain medvlm-tiny on synth-rad captions and write pefomed/assets/medvlm-tiny.

    python scripts/build_medvlm_tiny.py                    # the shipped build (~5 min on a free core, 15 when shared)
    python scripts/build_medvlm_tiny.py --steps 50 --out /tmp/m   # a quick smoke run

Full training of vision tower + projector + language model on "<image>\\n<instruction>" -> the
caption (a report) or the section of it the instruction asks for (Technique / Findings /
Impression), with a fresh batch of synth-rad *train* images every step (never its questions).
The varied instructions teach the language model to read its prompt, as in LLaVA's captioning
stage. Deterministic: fixed seeds, one thread by default, data indexed by step. Prints the loss
curve, the time taken and how often the generated reports state each fact on validation images.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path

import numpy as np
import torch

from pefomed.data.synth_rad import synth_rad_captions, synth_rad_study
from pefomed.data.synth_rad_text import INTENSITY_WORDS, NUMBER_WORDS, report_section
from pefomed.models.generative import encode_prompt_answer, greedy_answers
from pefomed.models.medvlm_tiny import ARCHITECTURE, ASSET_DIR, REPORT_PROMPT, build_untrained


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-images", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ASSET_DIR)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    bundle = build_untrained(seed=args.seed)
    model = bundle.model
    n_params = sum(p.numel() for p in model.parameters())
    print(f"medvlm-tiny: {n_params / 1e6:.2f}M parameters; {args.steps} steps x batch {args.batch_size}")
    start = time.perf_counter()
    curve = pretrain(bundle, args)
    args.seconds = round(time.perf_counter() - start)
    facts = report_accuracy(bundle, args.eval_images)
    print("report fact accuracy on validation images:", json.dumps(facts))
    save(bundle, args, curve, facts, n_params)


def pretrain(bundle, args) -> list[tuple[int, float]]:
    model = bundle.model
    model.train()
    torch.manual_seed(args.seed)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": .01}, {"params": no_decay, "weight_decay": 0.}],
                            lr=args.lr, betas=(.9, .98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, args.warmup, args.steps))
    curve, window, start = [], [], time.perf_counter()
    for step in range(args.steps):
        images, prompts, texts = report_batch(step, args.batch_size, args.seed)
        inputs = encode_prompt_answer(bundle, images, prompts, texts)
        loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        window.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == args.steps:
            mean = sum(window) / len(window)
            curve.append((step + 1, round(mean, 4)))
            window = []
            el = time.perf_counter() - start
            print(f"step {step + 1:5d}  loss {mean:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
                  f"{el:6.0f}s ({el / (step + 1):.3f} s/step)", flush=True)
    model.eval()
    return curve


# Instructions asking for the report or one of its sections, varied as in LLaVA's captioning
# stage; none is a synth-rad question, and none has a one-word answer.
INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "Report": ("Report:", "Describe the image.", "What does this image show?", "Write the radiology report.",
               "Summarize this scan.", "How would you describe this image?", "Give a brief report of the study."),
    "Technique": ("Technique:", "What kind of study is this? Describe the technique.",
                  "Which modality, plane and body part? Describe.", "How was the image acquired?"),
    "Findings": ("Findings:", "What are the findings?", "Where are the findings, and what are they?",
                 "Are there findings? Describe them.", "Describe the lesions, if any.",
                 "How many findings are there, and where?"),
    "Impression": ("Impression:", "What is the impression?"),
}
SECTION_P = {"Report": .4, "Technique": .15, "Findings": .3, "Impression": .15}


def report_batch(step: int, batch_size: int, seed: int) -> tuple[list, list[str], list[str]]:
    """Fresh train images ``step*batch_size ...``, each with an instruction and the whole report
    or the section of it the instruction asks for (Technique / Findings / Impression)."""
    start = step * batch_size
    pairs = synth_rad_captions("train", batch_size, seed=seed, start=start)
    rng = np.random.default_rng([seed, step])
    prompts, texts = [], []
    for k, (_, caption) in enumerate(pairs):
        section = str(rng.choice(list(SECTION_P), p=list(SECTION_P.values())))
        options = INSTRUCTIONS[section]
        prompts.append("<image>\n" + options[int(rng.integers(len(options)))])
        study = synth_rad_study("train", start + k, seed)
        texts.append(caption if section == "Report" else report_section(study, section))
    return [p[0] for p in pairs], prompts, texts


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return .1 + .9 * .5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


FACT_WORDS = {
    "modality": {"ct": r"\bCT\b", "mri": r"\bMRI\b", "x-ray": r"\bX-ray\b"},
    "organ": {o: rf"\b{o}\b" for o in ("chest", "brain", "abdomen")},
    "plane": {p: rf"\b{p}\b" for p in ("axial", "coronal", "sagittal", "pa", "ap", "lateral")},
    "size": {s: rf"\b{s}\b" for s in ("small", "medium", "large")},
    "side": {s: rf"\b{s}\b" for s in ("left", "right")},
    "level": {s: rf"\b{s}\b" for s in ("upper", "lower")},
}


def report_accuracy(bundle, n_images: int) -> dict[str, float]:
    """Share of validation images whose generated report states each fact right."""
    pairs = synth_rad_captions("validation", n_images)
    studies = [synth_rad_study("validation", i) for i in range(n_images)]
    reports: list[str] = []
    for k in range(0, n_images, 32):
        images = [p[0] for p in pairs[k:k + 32]]
        inputs = encode_prompt_answer(bundle, images, [REPORT_PROMPT] * len(images), None)
        reports += greedy_answers(bundle, inputs, max_new_tokens=32)
    print("examples:", *[f"  true: {p[1]}\n  gen:  {r}" for p, r in zip(pairs[:4], reports[:4])], sep="\n")
    hits: dict[str, list[bool]] = {k: [] for k in (*FACT_WORDS, "count", "intensity", "exact")}
    for study, (_, truth), report in zip(studies, pairs, reports):
        hits["exact"].append(report == truth)
        for fact, patterns in FACT_WORDS.items():
            value = getattr(study, fact)
            if value:
                found = [v for v, pat in patterns.items() if re.search(pat, report, re.IGNORECASE)]
                hits[fact].append(found == [value])
        said = [k for k, w in enumerate(NUMBER_WORDS[1:], 1) if re.search(rf"\b{w}\b", report)]
        hits["count"].append(said == ([study.count] if study.count else []))
        if study.count:
            hits["intensity"].append(INTENSITY_WORDS[study.modality][study.intensity] in report.split())
    return {k: round(sum(v) / max(1, len(v)), 3) for k, v in hits.items()}


def save(bundle, args, curve, facts, n_params) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    bundle.model.half().save_pretrained(args.out)
    bundle.model.float()
    bundle.processor.save_pretrained(args.out)
    info = {
        "data": "synth-rad train captions (image -> report), seed %d" % args.seed,
        "instructions": INSTRUCTIONS, "section_p": SECTION_P, "architecture": ARCHITECTURE, "parameters": n_params,
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "warmup": args.warmup,
        "seed": args.seed, "threads": args.threads, "seconds": args.seconds, "loss_curve": curve,
        "report_fact_accuracy": facts,
        "torch": torch.__version__,
    }
    (args.out / "pretraining.json").write_text(json.dumps(info, indent=1) + "\n")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
