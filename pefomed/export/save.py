"""``export_model``: a trained adapter as a standalone Hugging Face model folder.

The folder holds the weights (safetensors), ``config.json``, ``generation_config.json``, the
processor files (tokenizer, image processor, chat template if the processor has one), a model
card and ``pefomed_export.json`` (where it came from). Plain transformers loads it with the
family's Auto class. It is written into a temporary sibling and renamed into place, so a
failed export leaves nothing behind.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError
from pefomed.export.staging import staged_folder

EXPORT_FILE = "pefomed_export.json"
DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}


def export_model(source: str | Path, out: str | Path, *, dtype: str = "fp32", model: str | None = None,
                 family: str | None = None) -> Path:
    """Write the model of ``source`` (an adapter or run folder) to ``out``; returns ``out``.

    Mergeable methods are merged (QLoRA into a de-quantized full-precision base); ``full`` saves
    the trained weights; the rest are refused up front with the alternative. ``dtype`` (fp32,
    bf16, fp16) is the precision of the saved weights.
    """
    import torch

    from pefomed.export.card import export_card
    from pefomed.export.merge import check_exportable, merged_bundle
    from pefomed.export.prompt import prompt_template
    from pefomed.export.source import resolve_adapter_source

    if dtype not in DTYPES:
        raise PefomedError(f"dtype must be one of {', '.join(sorted(set(DTYPES)))}, but got {dtype!r}")
    out = Path(out).expanduser()
    _check_out(out)
    src = resolve_adapter_source(source)
    check_exportable(src)  # before any model is built
    bundle = merged_bundle(src, model=model, family=family)
    hf = bundle.model.to(getattr(torch, DTYPES[dtype]))
    with staged_folder(out, recheck=_check_out) as stage:
        hf.save_pretrained(str(stage))
        bundle.processor.save_pretrained(str(stage))
        if hf.can_generate() and not (stage / "generation_config.json").is_file():
            hf.generation_config.save_pretrained(str(stage))
        record = {**src.record, "base_source": src.record.get("base_source")}
        (stage / "README.md").write_text(export_card(record, run=src.run, dtype=DTYPES[dtype]), encoding="utf-8")
        provenance = {"adapter_dir": str(src.adapter_dir.resolve()), "method": record["method"],
                      "model": src.model, "family": bundle.family.name, "seed": src.seed,
                      "dtype": DTYPES[dtype], "auto_class": bundle.family.auto_class,
                      "prompt_template": prompt_template(bundle.family, record), "adapter": record}
        (stage / EXPORT_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n")
    return out


def read_export(folder: str | Path) -> dict[str, Any]:
    """The ``pefomed_export.json`` of an exported folder."""
    path = Path(folder) / EXPORT_FILE
    if not path.is_file():
        raise PefomedError(f"{folder} has no {EXPORT_FILE}; give a folder written by `pefomed export`")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PefomedError(f"output folder {out} already exists and is not empty; give a new --out or remove it")
