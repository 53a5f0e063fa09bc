"""On a CUDA machine: ``torch.cuda.max_memory_allocated`` of one training step vs the plan.

    python bench/gpu_plan_check.py                     # tiny, ~20M, ~100M LLaVA x full/lora/qlora/ia3, bf16
    python bench/gpu_plan_check.py --dtype fp32 --batch 8

Same grid and inputs as ``bench/plan_vs_measured.py``; here the measurement is the CUDA
allocator's exact peak of live tensors during the measured step (after one warm-up step,
``reset_peak_memory_stats``), which the planner's ``peak_bytes`` predicts (the CUDA context is
outside both). Prints one row per configuration and the worst deviation.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_vs_measured import ANSWER, METHODS, PROMPT, SIZES, write_config  # noqa: E402


def measure(folder: str, method: str, batch: int, dtype: str) -> float:
    import torch
    import transformers

    from pefomed.adapters import inject
    from pefomed.models.base import ModelBundle
    from pefomed.models.registry import get_family

    torch.manual_seed(0)
    torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    config = transformers.AutoConfig.from_pretrained(folder)
    model = transformers.LlavaForConditionalGeneration(config).to("cuda", torch_dtype)
    bundle = ModelBundle(name="bench", model=model, processor=None, family=get_family("llava"))
    settings = {"compute_dtype": {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[dtype]} \
        if method == "qlora" else None
    adapted = inject(bundle, method, settings=settings)
    adapted.model.train()
    optimizer = torch.optim.AdamW([p for p in adapted.model.parameters() if p.requires_grad], lr=1e-4)
    side, patch = config.vision_config.image_size, config.vision_config.patch_size
    n_img, vocab = (side // patch) ** 2, config.text_config.vocab_size
    ids = torch.randint(0, vocab - 2, (batch, n_img + PROMPT + ANSWER))
    ids[ids == config.image_token_id] = 0
    ids[:, :n_img] = config.image_token_id
    labels = torch.full_like(ids, -100)
    labels[:, -ANSWER:] = ids[:, -ANSWER:]
    inputs = {"input_ids": ids.cuda(), "attention_mask": torch.ones_like(ids).cuda(), "labels": labels.cuda(),
              "pixel_values": torch.randn(batch, 3, side, side, device="cuda", dtype=torch_dtype)}

    def step(net, batch, opt) -> None:
        net(**batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step(adapted.model, inputs, optimizer)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step(adapted.model, inputs, optimizer)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del adapted, bundle, model, optimizer, inputs
    torch.cuda.empty_cache()
    return float(peak)


def main() -> None:
    import torch

    from pefomed.plan import PlanRequest, plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: run bench/plan_vs_measured.py for the CPU check")
    rows = []
    with tempfile.TemporaryDirectory(prefix="pefomed-gpu-bench-") as tmp:
        for name in SIZES:
            folder = write_config(name, Path(tmp))
            for method in METHODS:
                measured = measure(str(folder), method, args.batch, args.dtype)
                planned = plan(PlanRequest(str(folder), method, batch_size=args.batch, prompt_tokens=PROMPT,
                                           max_answer_tokens=ANSWER, dtype=args.dtype, device="cuda"))["peak_bytes"]
                rows.append((name, method, planned, measured))
                print(f"{name:<12} {method:<6} planned {planned / 2**20:9.1f} MiB  max_memory_allocated "
                      f"{measured / 2**20:9.1f} MiB  ratio {planned / measured:5.2f}", flush=True)
    worst = max(abs(p / m - 1) for *_, p, m in rows)
    print(f"worst deviation: {worst:.1%} ({torch.cuda.get_device_name()}, {args.dtype}, batch {args.batch})")


if __name__ == "__main__":
    main()
