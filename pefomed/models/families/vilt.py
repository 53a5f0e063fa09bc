"""ViLT: one transformer over text tokens and image patches; VQA is classification over answers.

The answer space is ``config.label2id``. :meth:`ViltFamily.encode` turns answers into the soft
multi-hot targets ``ViltForQuestionAnswering`` trains on (an answer outside the label space gets an
all-zero row: it can never be predicted); :meth:`ViltFamily.generate` returns the top label.
There is no separate vision tower: patches are embedded by one conv and then share the
text transformer, so the "vision" part has no Linear layers and adapters target "language".
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from pefomed.errors import PefomedError
from pefomed.models.base import Anatomy, Family, ModelBundle, hf_model, outer_model
from pefomed.models.registry import register_family, register_model
from pefomed.models.tokenizer import build_tiny_tokenizer

#: the tiny model's answer space: closed answers plus frequent short open answers of Med-VQA
DEFAULT_LABELS: tuple[str, ...] = (
    "yes", "no", "left", "right", "bilateral", "none", "one", "two", "three", "ct", "mri", "x-ray",
    "ultrasound", "chest", "brain", "abdomen", "head", "axial", "coronal", "sagittal", "liver", "lung",
    "kidney", "heart", "normal", "abnormal",
)


def normalize_label(answer: str) -> str:
    """The label-space key of an answer: stripped and lower-cased."""
    return str(answer).strip().lower()


@register_family
class ViltFamily(Family):
    name = "vilt"
    model_types = ("vilt",)
    auto_class = "AutoModelForVisualQuestionAnswering"
    task = "classify"
    anatomy = Anatomy(
        vision=("vilt.embeddings.patch_embeddings", "vilt.embeddings.cls_token", "vilt.embeddings.position_embeddings"),
        projector=(),
        language=("vilt.embeddings.text_embeddings", "vilt.embeddings.token_type_embeddings", "vilt.encoder",
                  "vilt.layernorm", "vilt.pooler"),
        head=("classifier",),
    )
    unsupported = {
        "prefix": "prefix tuning needs a KV cache, which ViLT's encoder does not take; use lora",
        "prompt": "prompt tuning breaks ViLT (peft's disable_adapter crashes on it); use lora",
    }

    untargetable_parts = {"*": {
        "vision": "ViLT has no vision tower (one conv embeds the patches, then the shared transformer); "
                  "target language",
        "projector": "ViLT has no projector; target language",
    }}

    def encode(self, bundle, images, questions, answers=None):
        model = hf_model(bundle)
        bundle.tokenizer.padding_side = "right"
        enc = dict(bundle.processor(images=images, text=list(questions), padding=True, truncation=True,
                                    max_length=model.config.max_position_embeddings, return_tensors="pt"))
        if answers is not None:
            label2id = {normalize_label(k): v for k, v in model.config.label2id.items()}
            targets = torch.zeros(len(answers), model.config.num_labels)
            for row, answer in enumerate(answers):
                if (idx := label2id.get(normalize_label(answer))) is not None:
                    targets[row, idx] = 1.0
            enc["labels"] = targets
        return enc

    @torch.no_grad()
    def generate(self, bundle, images, questions, max_new_tokens=8):
        logits = outer_model(bundle)(**self.encode(bundle, images, questions)).logits
        id2label = hf_model(bundle).config.id2label
        return [id2label[int(i)] for i in logits.argmax(dim=-1)]


@register_model("tiny-vilt", family="vilt", description="random-weight ViLT VQA classifier, for tests", tiny=True)
def tiny_vilt(seed: int = 0, labels: Sequence[str] | None = None) -> ModelBundle:
    """``labels`` is the answer space (a dataset's answer list); default :data:`DEFAULT_LABELS`."""
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltProcessor
    from transformers.models.vilt.image_processing_pil_vilt import ViltImageProcessorPil

    names = list(dict.fromkeys(normalize_label(a) for a in (DEFAULT_LABELS if labels is None else labels)))
    if not names:
        raise PefomedError("tiny-vilt needs at least one label, but got labels=[]; pass the dataset's answers")
    image_size, patch, vocab = 32, 8, 384
    tokenizer = build_tiny_tokenizer(vocab)
    config = ViltConfig(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=128, image_size=image_size,
                        patch_size=patch, max_image_length=-1, pad_token_id=tokenizer.pad_token_id,
                        id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    torch.manual_seed(seed)
    model = ViltForQuestionAnswering(config).eval()
    image_processor = ViltImageProcessorPil(size={"shortest_edge": image_size}, size_divisor=patch)
    processor = ViltProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return ModelBundle(name="tiny-vilt", model=model, processor=processor, family=ViltFamily(),
                       meta={"labels": names})
