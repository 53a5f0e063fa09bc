"""What a VLM family must provide: its anatomy, inputs with answer-only labels, and generation.

A *family* (LLaVA, Qwen2-VL, BLIP-2, ...) is described once; every registered model name (tiny
test variants, real checkpoints) resolves to a :class:`ModelBundle` carrying its family.
Adapters never match bare module names: they ask the family's :class:`Anatomy` which module
prefixes make up each *part* and which leaf names are attention or MLP layers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

PARTS: tuple[str, ...] = ("vision", "projector", "language")
LAYER_KINDS: tuple[str, ...] = ("attention", "mlp", "all-linear")
Task = Literal["generate", "classify"]


@dataclass(frozen=True)
class Anatomy:
    """Module-name prefixes of each part, plus leaf-name patterns of layer kinds.

    ``head`` lists output layers (``lm_head``, a classifier) that adapters leave alone and that
    stay out of 4-bit quantization. Patterns are regular expressions matched against the *last*
    component of a module name (``q_proj``, ``qkv``, ``fc1``...).
    """

    vision: tuple[str, ...]
    projector: tuple[str, ...]
    language: tuple[str, ...]
    head: tuple[str, ...] = ()
    attention: tuple[str, ...] = (
        r"q_proj", r"k_proj", r"v_proj", r"o_proj", r"out_proj", r"qkv", r"proj",
        r"query", r"key", r"value", r"q", r"k", r"v", r"o", r"dense",
    )
    mlp: tuple[str, ...] = (
        r"fc\d*", r"gate_proj", r"up_proj", r"down_proj", r"mlp\.\d+", r"linear_\d+",
        r"intermediate\.dense", r"output\.dense", r"wi", r"wo", r"proj",
    )

    def prefixes(self, part: str) -> tuple[str, ...]:
        return {"vision": self.vision, "projector": self.projector, "language": self.language}[part]

    def part_of(self, module_name: str) -> str | None:
        """The part a fully qualified module (or parameter) name belongs to, or None.

        The longest matching prefix wins, so a projector nested inside the vision tower (Qwen's
        ``model.visual.merger``) counts as projector, not vision.
        """
        best: tuple[int, str | None] = (-1, None)
        for part in PARTS:
            for prefix in self.prefixes(part):
                if _under(module_name, prefix) and len(prefix) > best[0]:
                    best = (len(prefix), part)
        for prefix in self.head:
            if _under(module_name, prefix) and len(prefix) > best[0]:
                best = (len(prefix), "head")
        return best[1]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@dataclass
class ModelBundle:
    """A model with everything needed to feed it: processor/tokenizer and its family."""

    name: str
    model: nn.Module
    processor: Any
    family: "Family"
    source: str = "registry"  # "registry", a local folder, or a hub id
    meta: dict = field(default_factory=dict)

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)


class Family:
    """Base for a VLM family. Subclasses set the class attributes and override what differs.

    Subclasses implement :meth:`encode` (a batch of images + questions [+ answers] -> model
    inputs, with ``labels`` = -100 everywhere but the answer tokens) and :meth:`generate`
    (greedy short answers) or, for ``task == "classify"``, :meth:`predict`.
    """

    name: str = ""
    model_types: tuple[str, ...] = ()  # config.model_type values this family loads
    anatomy: Anatomy
    auto_class: str = "AutoModelForImageTextToText"
    task: Task = "generate"
    #: adapter name -> one-line reason it cannot work on this family (refused up front)
    unsupported: dict[str, str] = {}

    def encode(self, bundle: ModelBundle, images: list, questions: list[str],
               answers: list[str] | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, bundle: ModelBundle, images: list, questions: list[str],
                 max_new_tokens: int = 8) -> list[str]:
        raise NotImplementedError

    def load_processor(self, name_or_path: str) -> Any:
        """The processor saved beside a checkpoint (override when a family needs a special one)."""
        return load_processor_default(name_or_path)

    def layer_kind(self, module_name: str) -> str | None:
        """"attention", "mlp" or None for a Linear-like module, by its leaf name."""
        leaf = module_name.rsplit(".", 1)[-1]
        parent = module_name.rsplit(".", 2)[-2] if module_name.count(".") >= 1 else ""
        if any(re.fullmatch(p, leaf) for p in self.anatomy.attention) and _looks_attention(module_name):
            return "attention"
        if any(re.fullmatch(p, leaf) for p in self.anatomy.mlp) or "mlp" in parent:
            return "mlp"
        return None


def _looks_attention(module_name: str) -> bool:
    return any(t in module_name for t in ("attn", "attention", "self_attn", "crossattention"))


def load_processor_default(name_or_path: str) -> Any:
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(name_or_path)
