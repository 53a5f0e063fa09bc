"""Per-step time and peak memory: pefomed vs transformers.Trainer + peft vs a minimal torch loop.

    python bench/train_vs_trainer.py [--models tiny-llava,medvlm-tiny,llava-100m] [--reps 5]
                                     [--records 32] [--batch-size 8]

For each model, three worker processes build the same seeded model, the same LoRA (r 8,
alpha 16, dropout 0.05, on the modules pefomed's default ``lora`` targets: the language model's
attention) and train on the same synth-rad records with the same batch size, learning rate,
linear schedule and gradient clipping:

- ``pefomed``: ``pefomed.train.train`` with a feature cache, as ``pefomed train`` runs it;
- ``trainer``: what a competent user writes: ``peft.get_peft_model`` + ``transformers.Trainer``
  with a collator that runs the processor on the batch and masks the prompt out of the labels;
- ``torch``: the same model, collator and DataLoader in a bare AdamW loop (``model(**batch).loss``).

Each repetition is one epoch per worker; the workers take turns (ABCABC...), one thread each,
so machine noise hits all three alike. Repetition 1 is reported apart ("cold": it holds
one-time setup, pefomed's per-record encoding and feature computation); the rest are "warm".
Peak memory is the worker's peak resident set during an epoch (reset at its start) minus its
resident set once the model was built: the warm epochs' maximum, and the cold epoch's. ``llava-100m`` is a ~110M-parameter LLaVA built from config
(32k vocabulary, 128 px images), trained on 16 records for 3 epochs. Prints a table; nothing is
asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

KINDS = ("pefomed", "trainer", "torch")
#: the ~110M model trains on fewer records for fewer epochs, to keep the run to minutes on a CPU
BIG = {"llava-100m": dict(records=16, reps=3)}
LORA = dict(r=8, lora_alpha=16, lora_dropout=0.05)
LR = 2e-4


def build_bundle(name: str) -> Any:
    if name == "llava-100m":
        from pefomed.models.families.llava import build_llava

        return build_llava(seed=0, image_size=128, patch=16, vision_hidden=512, vision_layers=6,
                           vision_intermediate=2048, text_hidden=768, layers=6, text_intermediate=2048,
                           heads=8, vocab_size=32000, name="llava-100m")
    from pefomed.models.registry import create_model

    return create_model(name, seed=0)


# --- the transformers.Trainer + peft script (no pefomed code on its training path) -----------

class VQADataset:
    def __init__(self, records: list) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        r = self.records[i]
        return {"image": r.load_image(), "question": r.question, "answer": r.answer}


class Collator:
    """Processor on the batch; labels only on the answer (prompt length from the prompt alone)."""

    def __init__(self, processor: Any, prompt: str) -> None:
        self.processor, self.prompt = processor, prompt
        self.tok = processor.tokenizer

    def __call__(self, items: list[dict]) -> dict:
        self.tok.padding_side = "right"
        images = [it["image"] for it in items]
        prompts = [self.prompt.format(question=it["question"]) for it in items]
        full = [f"{p} {it['answer']}{self.tok.eos_token}" for p, it in zip(prompts, items)]
        batch = self.processor(images=images, text=full, padding=True, return_tensors="pt")
        prompt_lens = self.processor(images=images, text=prompts, padding=True,
                                     return_tensors="pt")["attention_mask"].sum(1)
        labels = batch["input_ids"].clone()
        for row, n in enumerate(prompt_lens.tolist()):
            labels[row, :n] = -100
        labels[batch["attention_mask"] == 0] = -100
        batch["labels"] = labels
        return dict(batch)


def _peft_model(bundle: Any, targets: list[str]) -> Any:
    from peft import LoraConfig, get_peft_model

    return get_peft_model(bundle.model, LoraConfig(target_modules=targets, bias="none", **LORA))


# --- workers ---------------------------------------------------------------------------------

def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (the peak resident set) to the current one
    except OSError:
        pass


class _Sync:
    """Runs one epoch per "go" from the parent and reports its time and peak memory."""

    def __init__(self, conn: Any, steps_per_rep: int, baseline: float) -> None:
        self.conn, self.steps_per_rep, self.baseline = conn, steps_per_rep, baseline
        self.steps = 0
        self.t0 = 0.0

    def wait(self) -> None:
        self.conn.recv()
        _reset_peak()  # each epoch reports its own peak
        self.t0 = time.perf_counter()

    def step_done(self) -> None:
        self.steps += 1
        if self.steps % self.steps_per_rep == 0:
            elapsed = time.perf_counter() - self.t0
            self.conn.send((elapsed / self.steps_per_rep, _peak_mb() - self.baseline, _peak_mb()))
            self.wait()


def worker(kind: str, model: str, args: dict, conn: Any) -> None:
    import torch

    torch.set_num_threads(1)
    import peft  # noqa: F401  every worker imports the same libraries before its baseline
    import transformers  # noqa: F401
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    from pefomed.adapters import inject
    from pefomed.data import load_dataset
    from pefomed.train import Budget, FeatureCache, TrainConfig, train

    records = load_dataset("synth-rad", "train", limit=args["records"]).records
    bsz, reps = args["batch_size"], args["reps"]
    steps_per_rep = -(-len(records) // bsz)
    total = reps * steps_per_rep
    torch.manual_seed(0)
    bundle = build_bundle(model)
    probe = inject(build_bundle(model), "lora", parts=("language",), layers="attention")
    targets = probe.touched_modules()
    del probe
    if kind == "pefomed":
        torch.manual_seed(0)
        adapted = inject(bundle, "lora", parts=("language",), layers="attention", settings=dict(LORA))
    else:
        model_ = _peft_model(bundle, targets)
        collator = Collator(bundle.processor, bundle.family.prompt)
        dataset = VQADataset(records)
    import gc

    gc.collect()
    baseline = _rss_mb()
    sync = _Sync(conn, steps_per_rep, baseline)
    conn.send("ready")
    sync.wait()
    if kind == "pefomed":
        original = adapted.on_step

        def on_step(step: int) -> None:
            original(step)
            sync.step_done()

        adapted.on_step = on_step
        config = TrainConfig(lr=LR, batch_size=bsz, epochs=reps, device="cpu", dtype=args["dtype"])
        train(adapted, records, config, Budget(max_steps=total), feature_cache=FeatureCache(), progress=False)
    elif kind == "trainer":
        import tempfile

        class Callback(TrainerCallback):
            def on_step_end(self, *a: Any, **k: Any) -> None:
                sync.step_done()

        with tempfile.TemporaryDirectory() as out:
            targs = TrainingArguments(
                output_dir=out, per_device_train_batch_size=bsz, max_steps=total, learning_rate=LR,
                lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0, seed=0,
                logging_strategy="no", save_strategy="no", report_to=[], use_cpu=True,
                dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=True,
                bf16=args["dtype"] == "bf16")  # CPU bf16 autocast, as pefomed's
            trainer = Trainer(model=model_, args=targs, train_dataset=dataset, data_collator=collator,
                              callbacks=[Callback()])
            trainer.remove_callback(PrinterCallback)  # no end-of-run log line in the table
            trainer.train()
    else:
        from torch.utils.data import DataLoader
        from transformers import get_scheduler

        trainable = [p for p in model_.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.0)
        sched = get_scheduler("linear", opt, num_warmup_steps=0, num_training_steps=total)
        loader = DataLoader(dataset, batch_size=bsz, shuffle=True, collate_fn=collator,
                            generator=torch.Generator().manual_seed(0))
        model_.train()
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args["dtype"] == "bf16")
        for _ in range(reps):
            for batch in loader:
                with autocast:
                    loss = model_(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                sync.step_done()


# --- the parent: interleave, collect, print -----------------------------------------------------

def run_model(model: str, args: dict) -> dict[str, list[tuple[float, float, float]]]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    workers = {}
    for kind in KINDS:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker, args=(kind, model, args, child), daemon=True)
        proc.start()
        workers[kind] = (proc, parent)
    for kind, (_, conn) in workers.items():
        conn.recv()  # ready
    results: dict[str, list] = {k: [] for k in KINDS}
    for rep in range(args["reps"]):
        order = KINDS if rep % 2 == 0 else KINDS[::-1]
        for kind in order:
            proc, conn = workers[kind]
            conn.send("go")
            results[kind].append(conn.recv())
    for proc, conn in workers.values():
        conn.send("go")  # let the last step finish
        proc.join(timeout=60)
        if proc.is_alive():
            proc.terminate()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny-llava,medvlm-tiny,llava-100m")
    parser.add_argument("--reps", type=int, default=5, help="epochs per worker (the first is 'cold')")
    parser.add_argument("--records", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"),
                        help="precision of all three (bf16: CPU autocast; Trainer's bf16=True)")
    ns = parser.parse_args()
    args = dict(reps=max(ns.reps, 2), records=ns.records, batch_size=ns.batch_size, dtype=ns.dtype)
    print(f"synth-rad train records, batch {ns.batch_size}, {ns.dtype}, epoch 1 = cold, 1 thread per worker, "
          f"interleaved; times are median s/step over the warm epochs")
    header = (f"{'model':<12} {'rec x ep':>8} {'pefomed':>9} {'trainer':>9} {'torch':>9} {'trainer/pefomed':>16} "
              f"{'torch/pefomed':>14} {'cold t/p':>9}  peak MB above baseline (pefomed/trainer/torch)")
    print(header)
    for model in ns.models.split(","):
        run = {**args, **BIG.get(model, {})}
        res = run_model(model, run)
        warm = {k: statistics.median(x[0] for x in v[1:]) for k, v in res.items()}
        cold = {k: v[0][0] for k, v in res.items()}
        peak = {k: max(x[1] for x in v[1:]) for k, v in res.items()}
        cold_peak = {k: v[0][1] for k, v in res.items()}
        print(f"{model:<12} {str(run['records']) + ' x ' + str(run['reps']):>8} {warm['pefomed']:>9.4f} {warm['trainer']:>9.4f} {warm['torch']:>9.4f} "
              f"{warm['trainer'] / warm['pefomed']:>15.2f}x {warm['torch'] / warm['pefomed']:>13.2f}x "
              f"{cold['trainer'] / cold['pefomed']:>8.2f}x  "
              f"{peak['pefomed']:.0f} / {peak['trainer']:.0f} / {peak['torch']:.0f}  (cold: "
              f"{cold_peak['pefomed']:.0f} / {cold_peak['trainer']:.0f} / {cold_peak['torch']:.0f})", flush=True)


if __name__ == "__main__":
    main()
