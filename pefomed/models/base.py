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

from pefomed.errors import UnsupportedError

PARTS: tuple[str, ...] = ("vision", "projector", "language")
LAYER_KINDS: tuple[str, ...] = ("attention", "mlp", "all-linear")
Task = Literal["generate", "classify"]


@dataclass(frozen=True)
class Anatomy:
    """Module-name prefixes of each part, plus name patterns of layer kinds.

    ``head`` lists output layers (``lm_head``, a classifier) that adapters leave alone and that
    stay out of 4-bit quantization. ``attention`` and ``mlp`` are regular expressions matched
    against the *end* of a fully qualified module name, starting at a component boundary:
    ``self_attn\\.q_proj`` matches ``model.language_model.layers.0.self_attn.q_proj``. Context
    in the pattern is what keeps BERT-style ``attention.output.dense`` apart from the MLP's
    ``layer.3.output.dense``.
    """

    vision: tuple[str, ...]
    projector: tuple[str, ...]
    language: tuple[str, ...]
    head: tuple[str, ...] = ()
    attention: tuple[str, ...] = (
        r"(self_attn|attn|cross_attn|encoder_attn)\.(q_proj|k_proj|v_proj|o_proj|out_proj|qkv|proj|projection)",
        r"(attention|crossattention)\.(self|attention)\.(query|key|value)",
        r"(attention|crossattention)\.output\.dense",
    )
    mlp: tuple[str, ...] = (
        r"mlp\.(fc1|fc2|gate_proj|up_proj|down_proj|linear_fc1|linear_fc2)",
        r"(intermediate|intermediate_query)\.dense",
        r"layers?\.\d+\.(output|output_query)\.dense",
    )

    def layer_kind(self, module_name: str) -> str | None:
        """"attention", "mlp" or None. Linear layers of the projector count as "mlp"."""
        part = self.part_of(module_name)
        if part in (None, "head"):
            return None
        if any(_ends_with(module_name, p) for p in self.attention):
            return "attention"
        if part == "projector" or any(_ends_with(module_name, p) for p in self.mlp):
            return "mlp"
        return None

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


def _ends_with(name: str, pattern: str) -> bool:
    return re.search(rf"(?:^|\.)(?:{pattern})$", name) is not None


@dataclass
class ModelBundle:
    """A model with everything needed to feed it: processor/tokenizer and its family."""

    name: str
    model: nn.Module
    processor: Any
    family: "Family"
    source: str = "registry"  # "registry", a local folder, or a hub id
    meta: dict = field(default_factory=dict)
    #: the :class:`~pefomed.models.prompts.PromptTemplate` in use; None until first resolved ("auto")
    prompt_template: Any = None

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)


class Family:
    """Base for a VLM family. Subclasses set the class attributes and override what differs.

    Subclasses implement :meth:`encode` (a batch of images + questions [+ answers] -> model
    inputs, with ``labels`` = -100 everywhere but the answer tokens) and :meth:`generate`
    (greedy short answers). For ``task == "classify"`` (ViLT) ``labels`` are soft targets over
    the label space and :meth:`generate` returns the top label's text.

    Adapter names used as keys below are the catalogue's (``adapters/<name>.yaml``: ``"lora"``,
    ``"prefix"``, ``"prompt"``...).
    """

    name: str = ""
    model_types: tuple[str, ...] = ()  # config.model_type values this family loads
    anatomy: Anatomy
    auto_class: str = "AutoModelForImageTextToText"
    task: Task = "generate"
    #: adapter name -> one-line reason it cannot work on this family (refused up front)
    unsupported: dict[str, str] = {}
    #: adapter name, or "*" for every method that targets Linear layers -> part -> why that
    #: part cannot be targeted (e.g. Gemma3's projector is a raw weight, not a Linear)
    untargetable_parts: dict[str, dict[str, str]] = {}
    #: whether :meth:`image_features` / :meth:`forward_with_features` are implemented
    supports_feature_cache: bool = False

    #: generative families: the *plain* question template (``{question}``); :meth:`encode` fills
    #: the run's template (see ``pefomed.models.prompts``). Empty: the family takes the question alone
    prompt: str = ""
    #: what ``{image}`` stands for in a user's format-string template (put in front when absent)
    image_placeholder: str = "<image>"
    #: how ``--image-size`` / ``--max-pixels`` apply (see ``pefomed.models.resolution``):
    #: "fixed" (one size), "pixels" (an area cap, Qwen-VL), "longest_edge" (Idefics3)
    resolution: str = "fixed"
    #: processors that take a list of images per prompt (Idefics3, Gemma3) want ``[[im], ...]``
    images_per_prompt: bool = False
    #: generative families: the loss may run the output layer on answer positions only
    #: (:mod:`pefomed.models.answer_logits`); False where the head is not per token
    answer_only_logits: bool = True

    def encode(self, bundle: ModelBundle, images: list, questions: list[str],
               answers: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Prompt [+ answer + eos] -> inputs, labels only on the answer (see generative.py)."""
        from pefomed.models.generative import encode_prompt_answer
        from pefomed.models.prompts import build_prompt

        if not self.prompt:
            raise NotImplementedError(f"family {self.name!r} must set `prompt` or override encode()")
        prompts = [build_prompt(q, bundle) for q in questions]
        batch = [[im] for im in images] if self.images_per_prompt else images
        return encode_prompt_answer(bundle, batch, prompts, answers)

    @torch.no_grad()
    def generate(self, bundle: ModelBundle, images: list, questions: list[str],
                 max_new_tokens: int = 8) -> list[str]:
        """Greedy short answers (only the new text)."""
        from pefomed.models.generative import greedy_answers

        return greedy_answers(bundle, self.encode(bundle, images, questions), max_new_tokens)

    def collate(self, bundle: ModelBundle, rows: list[dict[str, Any]],
                skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """One batch from rows that :meth:`encode` returned for one record each (right padding).

        Equals encoding the records together; see :mod:`pefomed.models.collate`.
        """
        from pefomed.models.collate import collate_rows

        return collate_rows(rows, bundle.tokenizer.pad_token_id, skip)

    def output_head(self, model: Any) -> nn.Module | None:
        """The per-token output layer (final hidden states -> vocabulary logits), or None."""
        get = getattr(hf_model(model), "get_output_embeddings", None)
        return get() if get is not None else None

    def load_processor(self, name_or_path: str) -> Any:
        """The processor saved beside a checkpoint (override when a family needs a special one)."""
        return load_processor_default(name_or_path)

    def layer_kind(self, module_name: str) -> str | None:
        """"attention", "mlp" or None for a Linear-like module (see :meth:`Anatomy.layer_kind`)."""
        return self.anatomy.layer_kind(module_name)

    def untargetable(self, method: str, part: str) -> str | None:
        """Why ``method`` cannot target ``part`` on this family, or None if it can."""
        for key in (method, "*"):
            reason = self.untargetable_parts.get(key, {}).get(part)
            if reason:
                return reason
        return None

    def image_features(self, bundle: ModelBundle, inputs: dict[str, torch.Tensor], *,
                       projected: bool = False) -> torch.Tensor:
        """The frozen vision tower's output for ``inputs`` (from :meth:`encode`), batch first.

        Row ``i`` belongs to example ``i``, so a cache may store rows per example and stack them
        again (:func:`stack_features` pads rows of unequal length). With ``projected=True`` the
        projector is applied too (only when the projector is frozen as well).
        """
        raise UnsupportedError(f"model family {self.name!r} cannot cache vision features; "
                               "train without a feature cache")

    def forward_with_features(self, model: Any, inputs: dict[str, torch.Tensor], features: torch.Tensor, *,
                              projector_live: bool = True) -> Any:
        """``model(**inputs)`` with the vision tower replaced by cached ``features``.

        ``model`` is the HF model, a peft-wrapped one, or anything with ``.model`` (a bundle).
        With ``projector_live`` the projector runs on ``features`` (so it can be trained);
        otherwise ``features`` must come from ``image_features(..., projected=True)``.
        """
        raise UnsupportedError(f"model family {self.name!r} cannot cache vision features; "
                               "train without a feature cache")


def outer_model(model: Any) -> nn.Module:
    """The module to call: a bundle's or adapted model's ``.model``, else ``model`` itself."""
    while not isinstance(model, nn.Module):
        model = model.model
    return model


def hf_model(model: Any) -> nn.Module:
    """The transformers model inside ``model`` (unwrapping a bundle and peft)."""
    model = outer_model(model)
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return model
    if isinstance(model, PeftModel):
        base = model.get_base_model()
        return base if not isinstance(base, PeftModel) else base.base_model.model
    return model


def stack_features(rows: list[torch.Tensor]) -> torch.Tensor:
    """Stack per-example feature rows, zero-padding dimension 0 of each row to the longest."""
    longest = max(r.shape[0] for r in rows)
    padded = [torch.nn.functional.pad(r, (0, 0) * (r.dim() - 1) + (0, longest - r.shape[0])) for r in rows]
    return torch.stack(padded)


def load_processor_default(name_or_path: str) -> Any:
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(name_or_path)
