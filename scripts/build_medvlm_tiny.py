"""Pretrain medvlm-tiny on synth-rad images and write pefomed/assets/medvlm-tiny.

    python scripts/build_medvlm_tiny.py                    # both stages (~14 + ~60 min on one thread)
    python scripts/build_medvlm_tiny.py --steps 50 --instruct-steps 50 --out /tmp/m   # a quick smoke run
    python scripts/build_medvlm_tiny.py --init STAGE1_FOLDER --out /tmp/m2   # stage 2 only, from stage-1 weights

Full training of vision tower + projector + language model, in LLaVA's two stages, on fresh
synth-rad *train* images every step (never its questions; see ``pefomed/data/synth_rad_pretraining.py``):
stage 1 (``--steps``) captions "<image>\n<instruction>" -> the report or the section of it the
instruction asks for; stage 2 (``--instruct-steps``) instruction-tunes on short questions about one
fact of the image (yes/no or a one- or two-word answer) in wordings synth-rad's VQA templates never
use, mixed with stage-1 rows. Stage 2 gives the base what a real medical VLM brings to a
fine-tune: it can check a fact of the image against a question; the fine-tune teaches synth-rad's
wordings and answer format. Deterministic: fixed seeds, one thread by default, data indexed by
step. Prints the loss curve, the time taken, how often the generated reports state each fact and
how often the instruction questions are answered right on validation images.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import re
import time
from pathlib import Path

import numpy as np
import torch

from pefomed.data.synth_rad import synth_rad_captions, synth_rad_study
from pefomed.data.synth_rad_pretraining import (INSTRUCTIONS, QA_CLOSED_P, QA_P, SECTION_P, instruct_batch, qa_row,
                                                report_batch)
from pefomed.data.synth_rad_text import INTENSITY_WORDS, NUMBER_WORDS
from pefomed.models.generative import encode_prompt_answer, greedy_answers
from pefomed.models.medvlm_tiny import ARCHITECTURE, ASSET_DIR, REPORT_PROMPT, build_untrained


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2400, help="stage 1: captions")
    ap.add_argument("--instruct-steps", type=int, default=9000,
                    help="stage 2: instruction questions + captions (4,500 reached 74%% yes/no on its own questions, 9,000 84%%)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--instruct-lr", type=float, default=7e-4)
    ap.add_argument("--qa-closed-p", type=float, default=QA_CLOSED_P,
                    help="stage 2: share of the instruction questions that are yes/no")
    ap.add_argument("--warmup", type=int, default=100, help="stage 1's warm-up steps (stage 2: half)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-images", type=int, default=200)
    ap.add_argument("--init", type=Path, default=None,
                    help="skip stage 1 and start stage 2 from this medvlm-tiny folder (its stage-1 weights)")
    ap.add_argument("--out", type=Path, default=ASSET_DIR)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    stage1 = None
    if args.init is not None:  # stage 1 was done by an earlier run: take its weights and record
        from pefomed.models.medvlm_tiny import medvlm_tiny

        stage1 = json.loads((args.init / "pretraining.json").read_text())
        if stage1.get("instruct_steps"):
            raise SystemExit(f"--init {args.init} holds instruction-tuned weights (instruct_steps "
                             f"{stage1['instruct_steps']}); stage 2 starts from stage-1 weights: pass a folder built "
                             "with --instruct-steps 0, e.g. pefomed/assets/medvlm-tiny as of commit 1a7dd63")
        bundle = medvlm_tiny(path=args.init)
        args.steps, args.lr, args.warmup = stage1["steps"], stage1["lr"], stage1["warmup"]
    else:
        bundle = build_untrained(seed=args.seed)
    n_params = sum(p.numel() for p in bundle.model.parameters())
    print(f"medvlm-tiny: {n_params / 1e6:.2f}M parameters; {args.steps} + {args.instruct_steps} steps "
          f"x batch {args.batch_size}{' (stage 1 from ' + str(args.init) + ')' if stage1 else ''}")
    start = time.perf_counter()
    if stage1 is None:
        curve = pretrain(bundle, args, report_batch, 0, args.steps, args.lr, args.warmup)
        # stage 2 starts from the fp16 weights a stage-1 folder holds, as it does with --init
        bundle.model.half().float()
    else:
        curve = [tuple(point) for point in stage1["loss_curve"] if point[0] <= args.steps]
    stage2_batch = functools.partial(instruct_batch, closed_p=args.qa_closed_p)
    curve += pretrain(bundle, args, stage2_batch, args.steps, args.instruct_steps, args.instruct_lr,
                      args.warmup // 2, row_mean=True)
    args.seconds = round(time.perf_counter() - start) + (stage1["seconds"] if stage1 else 0)
    facts = report_accuracy(bundle, args.eval_images)
    print("report fact accuracy on validation images:", json.dumps(facts))
    answers = qa_accuracy(bundle, args.eval_images)
    print("instruction question accuracy on validation images:", json.dumps(answers))
    save(bundle, args, curve, facts, answers, n_params)


def pretrain(bundle, args, batch_fn, first: int, steps: int, lr: float, warmup: int,
             row_mean: bool = False) -> list[tuple[int, float]]:
    """``steps`` AdamW steps on ``batch_fn(first + step, ...)`` (fresh images every step); the loss
    is the model's token mean, or with ``row_mean`` a mean per row (see ``row_mean_loss``)."""
    if steps <= 0:
        return []
    model = bundle.model
    model.train()
    torch.manual_seed(args.seed + first)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": .01}, {"params": no_decay, "weight_decay": 0.}],
                            lr=lr, betas=(.9, .98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, warmup, steps))
    curve, window, start = [], [], time.perf_counter()
    for step in range(steps):
        images, prompts, texts = batch_fn(first + step, args.batch_size, args.seed)
        inputs = encode_prompt_answer(bundle, images, prompts, texts)
        loss = row_mean_loss(model, inputs) if row_mean else model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        window.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == steps:
            mean = sum(window) / len(window)
            curve.append((first + step + 1, round(mean, 4)))
            window = []
            el = time.perf_counter() - start
            print(f"step {first + step + 1:5d}  loss {mean:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
                  f"{el:6.0f}s ({el / (step + 1):.3f} s/step)", flush=True)
    model.eval()
    return curve


def row_mean_loss(model, inputs: dict) -> torch.Tensor:
    """Cross-entropy averaged per row, then over rows: a one-word "yes" weighs as much as a
    30-token report (with the token mean of the model's own loss, short answers would get a
    small share of the gradient beside the reports)."""
    labels = inputs.pop("labels")
    logits = model(**inputs).logits[:, :-1].float()
    target = labels[:, 1:]
    tokens = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100, reduction="none")
    mask = (target != -100).float()
    return ((tokens * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()


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


def qa_accuracy(bundle, n_images: int) -> dict[str, float]:
    """Exact-match accuracy on validation images' instruction questions (``qa_row``): closed,
    open, and per kind of fact ("organ/c" is the yes/no questions about the organ)."""
    pairs = synth_rad_captions("validation", n_images)
    rng = np.random.default_rng(2468)
    rows = [qa_row(synth_rad_study("validation", i), rng) for i in range(n_images)]
    said: list[str] = []
    for k in range(0, n_images, 32):
        inputs = encode_prompt_answer(bundle, [p[0] for p in pairs[k:k + 32]], [r[0] for r in rows[k:k + 32]], None)
        said += greedy_answers(bundle, inputs, max_new_tokens=4)
    hits: dict[str, list[bool]] = {"closed": [], "open": []}
    for (_, answer, kind), s in zip(rows, said):
        for key in ("closed" if kind.endswith("/c") else "open", kind):
            hits.setdefault(key, []).append(s.strip() == answer)
    order = ("closed", "open", *sorted(hits.keys() - {"closed", "open"}))
    return {k: round(sum(hits[k]) / len(hits[k]), 3) for k in order if hits[k]}


def save(bundle, args, curve, facts, answers, n_params) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    bundle.model.half().save_pretrained(args.out)
    bundle.model.float()
    bundle.processor.save_pretrained(args.out)
    info = {
        "data": f"synth-rad train images: captions (stage 1), instruction questions + captions (stage 2), "
                f"seed {args.seed}",
        "instructions": INSTRUCTIONS, "section_p": SECTION_P, "architecture": ARCHITECTURE, "parameters": n_params,
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "warmup": args.warmup,
        "instruct_steps": args.instruct_steps, "instruct_lr": args.instruct_lr, "qa_p": QA_P,
        "qa_closed_p": args.qa_closed_p, "init": str(args.init) if args.init else None,
        "seed": args.seed, "threads": args.threads, "seconds": args.seconds, "loss_curve": curve,
        "report_fact_accuracy": facts, "instruction_accuracy": answers,
        "torch": torch.__version__,
    }
    (args.out / "pretraining.json").write_text(json.dumps(info, indent=1) + "\n")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
