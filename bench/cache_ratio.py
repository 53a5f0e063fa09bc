"""Cached vs uncached training-step time on medvlm-tiny (LoRA on the language model).

    python bench/cache_ratio.py [--steps 20] [--batch-size 8] [--model medvlm-tiny]

Both paths run in this process on the same records, steps interleaved so machine noise hits
both alike; the warm-up pass (which also fills the cache) is excluded; prints the median step
time of each and their ratio (uncached / cached: > 1 means the cache saves time).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="medvlm-tiny")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--records", type=int, default=32)
    args = parser.parse_args()

    from pefomed.adapters import inject
    from pefomed.data import load_dataset
    from pefomed.errors import PefomedError
    from pefomed.models.registry import create_model
    from pefomed.train import FeatureCache
    from pefomed.train.step import StepRunner

    model = args.model
    try:
        create_model(model)
    except PefomedError as exc:
        print(f"note: {model!r} is not available here ({exc}); measuring tiny-llava instead")
        model = "tiny-llava"
    records = load_dataset("synth-rad", "train", limit=args.records).records
    batches = [records[i:i + args.batch_size] for i in range(0, len(records), args.batch_size)]
    runners = {}
    for cached in (False, True):
        torch.manual_seed(0)
        adapted = inject(create_model(model), "lora", parts=("language",), layers="attention")
        cache = FeatureCache().bind(adapted, torch.float32) if cached else None
        runner = StepRunner(adapted, torch.device("cpu"), torch.float32, cache)
        optimizer = torch.optim.AdamW([p for p in adapted.model.parameters() if p.requires_grad], lr=1e-4)
        adapted.model.train()
        runners[cached] = (runner, optimizer)

    def step(cached: bool, batch) -> float:
        runner, optimizer = runners[cached]
        start = time.perf_counter()
        runner.backward(batch, len(batch))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    for batch in batches:  # warm-up: one pass over the data, fills the cache
        step(False, batch)
        step(True, batch)
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(args.steps):
        batch = batches[i % len(batches)]
        for cached in ((False, True) if i % 2 == 0 else (True, False)):
            times[cached].append(step(cached, batch))
    plain, fast = statistics.median(times[False]), statistics.median(times[True])
    print(f"model {model}, batch {args.batch_size}, {args.steps} timed steps each, "
          f"{torch.get_num_threads()} threads")
    print(f"uncached median step: {plain * 1000:.1f} ms")
    print(f"cached   median step: {fast * 1000:.1f} ms")
    print(f"ratio uncached/cached: {plain / fast:.2f}x")


if __name__ == "__main__":
    main()
