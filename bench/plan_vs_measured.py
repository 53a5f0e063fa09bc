"""Planned vs measured peak memory of one CPU training step, per model size x method.

    python bench/plan_vs_measured.py            # tiny-llava, ~20M and ~100M LLaVA x full/lora/qlora/ia3
    python bench/plan_vs_measured.py --quick    # tiny and ~20M only

Each configuration runs in a fresh process (``--one``): build the model from its config with
real (random) weights, inject the method, run one warm-up step (creates the optimizer state,
loads lazy kernels), reset the kernel's high-water mark of resident memory
(``/proc/self/clear_refs`` = 5), run the measured step (forward, backward, AdamW step), and read
``VmHWM``: the true peak during the step, not a reading after it. Measured = that peak minus the
resident memory before the model was built (imports, interpreter). ``MALLOC_MMAP_THRESHOLD_``
makes large tensors come from mmap, so freed tensors leave the resident set as they do on a
GPU allocator; the rest of what glibc keeps is the planner's CPU framework overhead.
The planner sees the same config through ``create_model(folder, weights=False)``: no weights.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

METHODS = ("full", "lora", "qlora", "ia3")
BATCH, PROMPT, ANSWER = 4, 32, 16
#: name -> (image, patch, vision hidden, vision layers, text hidden, text layers, heads, vocab, text MLP)
SIZES = {
    "tiny-llava": None,  # the registered tiny model
    "llava-20m": (224, 16, 256, 4, 384, 4, 6, 16000, 1536),
    "llava-100m": (224, 16, 512, 6, 768, 6, 12, 32000, 2048),
}


def write_config(name: str, folder: Path) -> Path:
    """config.json of a size of :data:`SIZES` (tiny-llava: the registered model's config)."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    spec = SIZES[name]
    if spec is None:
        from pefomed.models.registry import create_model

        config = create_model(name).model.config
    else:
        image, patch, vh, vl, th, tl, heads, vocab, tf = spec
        vision = CLIPVisionConfig(hidden_size=vh, intermediate_size=4 * vh, num_hidden_layers=vl,
                                  num_attention_heads=max(1, vh // 64), image_size=image, patch_size=patch)
        text = LlamaConfig(vocab_size=vocab, hidden_size=th, intermediate_size=tf, num_hidden_layers=tl,
                           num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=1024,
                           tie_word_embeddings=False)
        config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=vocab - 1,
                             vision_feature_layer=-1, vision_feature_select_strategy="default")
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out)
    return out


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def measure_one(folder: str, method: str) -> dict:
    """Run in a fresh process: the true peak of one training step above the pre-build baseline."""
    import torch
    import transformers

    from pefomed.adapters import inject
    from pefomed.models.base import ModelBundle
    from pefomed.models.registry import get_family

    torch.manual_seed(0)
    config = transformers.AutoConfig.from_pretrained(folder)
    baseline = rss_kb("VmRSS")
    model = transformers.LlavaForConditionalGeneration(config)
    bundle = ModelBundle(name="bench", model=model, processor=None, family=get_family("llava"))
    adapted = inject(bundle, method)
    adapted.model.train()
    params = [p for p in adapted.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    side, patch = config.vision_config.image_size, config.vision_config.patch_size
    n_img = (side // patch) ** 2
    seq = n_img + PROMPT + ANSWER
    vocab = config.text_config.vocab_size
    ids = torch.randint(0, vocab - 2, (BATCH, seq))
    ids[ids == config.image_token_id] = 0
    ids[:, :n_img] = config.image_token_id
    labels = torch.full_like(ids, -100)
    labels[:, -ANSWER:] = ids[:, -ANSWER:]
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
             "pixel_values": torch.randn(BATCH, 3, side, side)}

    def step() -> None:
        loss = adapted.model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: optimizer state, lazily loaded kernels
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    step()
    peak = rss_kb("VmHWM")
    return {"measured_bytes": (peak - baseline) * 1024}


def planned(folder: str, method: str) -> float:
    from pefomed.plan import PlanRequest, plan

    record = plan(PlanRequest(folder, method, batch_size=BATCH, prompt_tokens=PROMPT, max_answer_tokens=ANSWER,
                              dtype="fp32", device="cpu"))
    return record["peak_bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--one", nargs=2, metavar=("FOLDER", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(*args.one)))
        return
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    names = [n for n in args.sizes if not (args.quick and n == "llava-100m")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pefomed-bench-") as tmp:
        for name in names:
            folder = write_config(name, Path(tmp))
            for method in args.methods:
                out = subprocess.run([sys.executable, __file__, "--one", str(folder), method], env=env,
                                     capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(f"{name} {method}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                measured = json.loads(out.stdout.strip().splitlines()[-1])["measured_bytes"]
                plan_b = planned(str(folder), method)
                rows.append((name, method, plan_b, measured))
                print(f"{name:<12} {method:<6} planned {plan_b / 2**20:9.1f} MiB  measured {measured / 2**20:9.1f} MiB"
                      f"  ratio {plan_b / measured:5.2f}", flush=True)
    worst = max(abs(p / m - 1) for _, _, p, m in rows) if rows else float("nan")
    print("\n| model | method | planned MiB | measured MiB | planned/measured |\n|---|---|---|---|---|")
    for name, method, p, m in rows:
        print(f"| {name} | {method} | {p / 2**20:.1f} | {m / 2**20:.1f} | {p / m:.2f} |")
    print(f"\nworst deviation: {worst:.1%} (target: within 15% on every row)")


if __name__ == "__main__":
    main()
