"""Model cards (README.md) for saved adapters and exported models: pure functions of the records.

A card states the base model, method, settings, prompt template, data fingerprints and metrics
(by protocol name), and gives a copy-paste snippet that reproduces pefomed's greedy answers with
plain peft + transformers (adapters) or plain transformers (exported models).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FILE = "README.md"


def base_reference(record: dict[str, Any]) -> str | None:
    """What ``from_pretrained`` needs to rebuild the base: a folder or hub id, or None for a
    random-weight registry model (which exists only inside pefomed)."""
    source = record.get("base_source")
    if source and source != "registry":
        return str(source)
    if record.get("model") == "medvlm-tiny":
        from pefomed.models.medvlm_tiny import ASSET_DIR

        return str(ASSET_DIR)
    return None


def write_adapter_card(folder: str | Path, run: dict[str, Any] | None = None) -> Path:
    """(Re)write ``folder/README.md`` from its ``pefomed_adapter.json`` [and the run record]."""
    from pefomed.adapters.persist import read_record

    folder = Path(folder)
    path = folder / CARD_FILE
    path.write_text(adapter_card(read_record(folder), run=run), encoding="utf-8")
    return path


def adapter_card(record: dict[str, Any], *, run: dict[str, Any] | None = None) -> str:
    """The model card of a saved adapter (``record``: its ``pefomed_adapter.json``)."""
    from pefomed.models.registry import get_family

    family = get_family(record["family"])
    template = _template(family, record, run)
    base = base_reference(record)
    lines = [*_front_matter(record, base, peft=bool(record.get("peft_backed"))),
             f"# {record['method']} adapter for {record['model']}", "",
             "Trained with [pefomed](https://github.com/pefomed/pefomed) for medical visual question answering.", "",
             *_facts(record, run, template), *_metrics(run),
             "## Use with pefomed", "", "```bash",
             'pefomed predict --adapter-dir THIS_FOLDER --image image.png --question "is there a fracture?"',
             "```", ""]
    if record["method"] in ("full", "frozen", "qlora") or record.get("peft_backed"):
        lines += ["To get a standalone transformers model: `pefomed export THIS_FOLDER --out merged/`.", ""]
    if record.get("peft_backed"):
        lines += ["## Use with plain peft + transformers", "",
                  "This reproduces pefomed's greedy answers (same prompt, same decoding):", "",
                  "```python", snippet(family, template, base, adapter=True, record=record), "```", ""]
    else:
        lines += [f"`{record['method']}` is not a peft method: its weights "
                  f"(`adapter.safetensors`) load with pefomed (`pefomed.adapters.load_adapted`).", ""]
    return "\n".join(lines)


def export_card(record: dict[str, Any], *, run: dict[str, Any] | None = None, dtype: str = "float32") -> str:
    """The model card of a folder written by ``pefomed export`` (``record``: the adapter's record)."""
    from pefomed.models.registry import get_family

    family = get_family(record["family"])
    template = _template(family, record, run)
    how = "merged into" if record["method"] not in ("full", "frozen") else "trained weights of"
    lines = [*_front_matter(record, base_reference(record), peft=False),
             f"# {record['model']} + {record['method']} (standalone)", "",
             f"A {record['method']} adapter {how} `{record['model']}`, exported by pefomed as a plain "
             f"transformers model ({dtype}). No pefomed or peft is needed to run it.", "",
             *_facts(record, run, template), *_metrics(run),
             "## Use with plain transformers", "",
             "This reproduces pefomed's greedy answers (same prompt, same decoding):", "",
             "```python", snippet(family, template, "THIS_FOLDER", adapter=False, record=record), "```", ""]
    return "\n".join(lines)


def snippet(family: Any, template: str, base: str | None, *, adapter: bool, record: dict[str, Any]) -> str:
    """Python that answers one question like pefomed does: constants first, then load, prompt, decode."""
    auto = family.auto_class
    imports = ["import torch", "from PIL import Image"]
    if adapter:
        imports.append("from peft import PeftModel")
    quantized = adapter and record.get("method") == "qlora"
    imports.append(f"from transformers import {auto}, AutoProcessor"
                   + (", BitsAndBytesConfig" if quantized else ""))
    base_line = (f"BASE = {json.dumps(base)}" if base else
                 f"BASE = \"path/to/{record['model']}\"  # a random-weight pefomed model: "
                 f"create_model({record['model']!r}) then .model/.processor.save_pretrained(BASE)")
    code = [*imports, "", base_line]
    if adapter:
        code.append('ADAPTER = "THIS_FOLDER"')
    code += ['IMAGE = "image.png"', 'QUESTION = "is there a fracture?"', "",
             "processor = AutoProcessor.from_pretrained(BASE)"]
    load = f"model = {auto}.from_pretrained(BASE, dtype=torch.float32"
    if quantized:
        s = record.get("settings", {})
        code += [f"quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type={s.get('quant_type', 'nf4')!r},",
                 f"                           bnb_4bit_use_double_quant={bool(s.get('double_quant', True))},",
                 f"                           bnb_4bit_compute_dtype=torch.{s.get('compute_dtype', 'float32')},",
                 f"                           llm_int8_skip_modules={list(record.get('kept_full_precision', []))})"]
        load += ", quantization_config=quant"
    code.append(load + ")")
    if adapter:
        code.append("model = PeftModel.from_pretrained(model, ADAPTER)")
    code += ["model.eval()", "", 'image = Image.open(IMAGE).convert("RGB")']
    images = "[[image]]" if getattr(family, "images_per_prompt", False) else "[image]"
    if family.task == "classify":
        code += ["inputs = processor(images=[image], text=[QUESTION], return_tensors=\"pt\")",
                 "with torch.no_grad():",
                 "    logits = model(**inputs).logits",
                 "answer = model.config.id2label[int(logits.argmax(-1)[0])]"]
    else:
        code += [f"prompt = {json.dumps(template)}.format(question=QUESTION)",
                 f"inputs = processor(images={images}, text=[prompt], return_tensors=\"pt\")",
                 "with torch.no_grad():",
                 "    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)"]
        if family.name == "blip":  # an encoder-decoder: the output is the answer alone
            code.append("answer = processor.tokenizer.decode(out[0], skip_special_tokens=True).strip()")
        else:
            code.append('answer = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], '
                        "skip_special_tokens=True).strip()")
    code.append("print(answer)")
    return "\n".join(code)


def _template(family: Any, record: dict[str, Any], run: dict[str, Any] | None) -> str:
    from pefomed.export.prompt import prompt_template

    spec = (run or {}).get("spec") or {}
    return prompt_template(family, {**spec, **record} if spec else record)


def _front_matter(record: dict[str, Any], base: str | None, *, peft: bool) -> list[str]:
    lines = ["---"]
    if base and not Path(base).is_absolute():
        lines.append(f"base_model: {base}")
    if peft:
        lines.append("library_name: peft")
    lines += ["tags:", "- pefomed", "- medical-vqa", f"- {record['method']}", "---", ""]
    return lines


def _facts(record: dict[str, Any], run: dict[str, Any] | None, template: str) -> list[str]:
    settings = ", ".join(f"{k}={v}" for k, v in sorted(record.get("settings", {}).items())) or "(none)"
    rows = [("base model", f"`{record['model']}` ({record['family']} family"
                           + (f", from `{base_reference(record)}`" if base_reference(record) else "") + ")"),
            ("method", f"{record['method']} on {', '.join(record['parts'])} (layers: {record['layers']}"
                       f"{', projector trained fully' if record.get('train_projector') else ''})"),
            ("settings", settings),
            ("trainable parameters", f"{record.get('trainable_parameters', 0):,}"),
            ("prompt template", f"`{json.dumps(template)[1:-1]}`")]
    if run:
        spec = run.get("spec", {})
        train = spec.get("train", {})
        for role in ("train", "eval"):
            data = (run.get("datasets") or {}).get(role)
            if data:
                rows.append((f"{role} data", f"{data['dataset']}/{data['split']}: {data['n']} records "
                                             f"({data['closed']} closed, {data['open']} open), "
                                             f"fingerprint `{data['fingerprint']}`"))
        cost = run.get("cost") or {}
        rows.append(("training", f"{cost.get('steps', '?')} steps, lr {train.get('lr')}, batch "
                                 f"{train.get('batch_size')}, seed {spec.get('seed')}, stop: {run.get('stop_reason')}"))
        versions = run.get("versions") or {}
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)))
    else:
        rows.append(("training data", "not recorded (saved outside `pefomed train`)"))
    out = ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows), ""]
    return out


def _metrics(run: dict[str, Any] | None) -> list[str]:
    metrics = (run or {}).get("metrics")
    if not metrics:
        return []
    described = metrics.get("protocols") or {}
    lines = [f"## Metrics ({metrics['n']} questions, 95% bootstrap CI)", "",
             "| protocol | value | 95% CI | n | definition |", "|---|---|---|---|---|"]
    for name, entry in metrics["metrics"].items():
        value = entry.get("value")
        ci = entry.get("ci95")
        lines.append(f"| {name} | {_num(value)} | "
                     f"{f'{_num(ci[0])}-{_num(ci[1])}' if ci else '-'} | {entry.get('n', '-')} | "
                     f"{_cell(str(described.get(name, '')))} |")
    return [*lines, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a literal bar inside a Markdown table cell


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"
