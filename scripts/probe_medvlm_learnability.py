"""Can medvlm-tiny learn synth-rad's closed questions at all? Full fine-tuning, scored by type.

    python scripts/probe_medvlm_learnability.py                       # all questions, lr 1e-4, 400 steps
    python scripts/probe_medvlm_learnability.py --only MODALITY/c --steps 200 --every 50
    python scripts/probe_medvlm_learnability.py --weights /tmp/m --lr 1e-3

The ceiling above every adapter: every parameter of the base (vision tower, projector, language
model) trains on synth-rad VQA train questions (the family's encode, labels on answer tokens),
and exact-match accuracy on validation questions is printed per question type every ``--every``
steps. If closed accuracy stays at chance here, no adapter can beat the majority answer on this
base, and the fix belongs in pretraining (``scripts/build_medvlm_tiny.py``), not in the adapters.
Mind the learning rate: at 1e-3 full fine-tuning of this small base collapses to one answer on
the closed questions, at 1e-4 it learns them (the README's "The demo base" has the runs).
``--only TYPE/c,TYPE/o`` trains and scores a subset (e.g. the closed modality questions alone).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_medvlm_effect import evaluate

from pefomed.data.synth_rad import synth_rad_records
from pefomed.models.registry import create_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="a medvlm-tiny folder (default: the shipped weights)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--every", type=int, default=100, help="evaluate every this many steps")
    ap.add_argument("--val-questions", type=int, default=300)
    ap.add_argument("--only", default="", help="comma-separated TYPE/c or TYPE/o, e.g. MODALITY/c")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = synth_rad_records("train")
    val = synth_rad_records("validation", None if args.only else args.val_questions)
    if args.only:
        wanted = set(args.only.split(","))
        train = [r for r in train if f"{r.question_type}/{r.answer_type[0]}" in wanted]
        val = [r for r in val if f"{r.question_type}/{r.answer_type[0]}" in wanted][:args.val_questions]
    if not train or not val:
        raise SystemExit(f"--only {args.only!r} matches no question; use TYPE/c or TYPE/o, e.g. MODALITY/c")
    bundle = create_model("medvlm-tiny", path=args.weights)
    model = bundle.model
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=.01)
    order = np.random.default_rng(args.seed).permutation(len(train))
    print(f"full fine-tuning on {len(train)} train questions, scoring {len(val)} validation questions", flush=True)
    losses, start = [], time.perf_counter()
    for step in range(args.steps):
        model.train()
        batch = [train[i] for i in order[(step * args.batch_size + np.arange(args.batch_size)) % len(train)]]
        inputs = bundle.family.encode(bundle, [r.load_image() for r in batch], [r.question for r in batch],
                                      [r.answer for r in batch])
        loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % args.every == 0 or step + 1 == args.steps:
            res = evaluate(bundle, val)
            print(f"step {step + 1:5d}  loss {np.mean(losses[-50:]):.3f}  closed {res['closed']:.3f}  "
                  f"open {res['open']:.3f}  {time.perf_counter() - start:.0f}s\n  by type: {res['by_type']}",
                  flush=True)


if __name__ == "__main__":
    main()
