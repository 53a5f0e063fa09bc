"""medvlm-tiny: a few-million-parameter LLaVA pretrained by this project on synth-rad images.

The weights ship in ``pefomed/assets/medvlm-tiny`` (fp16 safetensors, config, tokenizer and
processor files; reloaded as fp32). They come from ``scripts/build_medvlm_tiny.py``: full
training (vision tower, projector and language model) on synth-rad *train* images only, in
LLaVA's two stages: image -> report captions, then instruction tuning on short questions about
one fact of the image in wordings synth-rad's VQA templates never use
(``pefomed/data/synth_rad_pretraining.py``). The base therefore describes images, answers
yes/no questions about them well above the majority answer even in synth-rad's wordings, and
rarely gives synth-rad's exact open answers, which a short adapter fine-tune teaches: the default
model on which adapter choices give different, meaningful numbers on a laptop CPU.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle
from pefomed.models.registry import register_model

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "medvlm-tiny"
#: The caption prompt of pretraining (VQA uses the family's question prompt instead).
REPORT_PROMPT = "<image>\nReport:"
#: Architecture passed to ``build_llava`` (vocab 640 differs from every layer width on purpose).
ARCHITECTURE: dict = dict(
    image_size=64, patch=8, vision_hidden=128, vision_layers=4, vision_intermediate=512,
    text_hidden=192, layers=4, text_intermediate=512, heads=4, vocab_size=640,
)


#: Whole words of the tokenizer's BPE corpus: synth-rad's vocabulary when the shipped weights were
#: built, frozen so that later template edits cannot change a rebuild.
TOKENIZER_WORDS: tuple[str, ...] = tuple("""
AP Answer Are Axial CT Coronal Does How In Is Lateral MRI No PA Question Report Sagittal Was What Where Which
X-ray a abdomen abnormal abnormality an any are area axial body brain bright chest coronal dark exactly focal
free here hyperdense hyperintense hypodense hypointense image imaged imaging in intensity is large lateral left
lesion lesions located lower many medium modality no none normal of on one only or organ part plane present
region right sagittal scan seen show showing shown side size small something study taken the there this three
two upper used view was which with yes
""".split())


def build_untrained(seed: int = 0) -> ModelBundle:
    """The randomly initialised medvlm-tiny (what pretraining starts from)."""
    from pefomed.models.families.llava import build_llava

    return build_llava(seed=seed, name="medvlm-tiny", extra_words=TOKENIZER_WORDS, **ARCHITECTURE)


# lr_scale 10: width 192 against the ~4k of the models the catalogue's rates were tuned on; with
# it, 200 LoRA steps take synth-rad open exact match from 4.5% (frozen) to 60.2%; at the
# unscaled 2e-4 only to 5.5%.
@register_model("medvlm-tiny", family="llava", tiny=False, lr_scale=10.0,
                description="LLaVA, 2.9M params, pretrained here on synth-rad images; the offline default")
def medvlm_tiny(seed: int = 0, path: str | Path | None = None) -> ModelBundle:
    """Load the shipped pretrained weights (fp32). ``seed`` is accepted for the registry's
    signature; the weights are fixed, so it changes nothing."""
    from pefomed.models.loading import load_pretrained

    folder = Path(path) if path is not None else ASSET_DIR
    if not (folder / "model.safetensors").is_file():
        raise PefomedError(
            f"medvlm-tiny weights are missing from {folder}; rebuild them with "
            "`python scripts/build_medvlm_tiny.py` or reinstall pefomed"
        )
    bundle = load_pretrained(str(folder), family="llava", torch_dtype=torch.float32)
    bundle.name = "medvlm-tiny"
    bundle.source = "registry"
    info = folder / "pretraining.json"
    bundle.meta = {"pretraining": json.loads(info.read_text())} if info.is_file() else {}
    return bundle
