"""Real checkpoints shipped as config.json only (no weights), registered by short names.

``create_model("llava-1.5-7b", weights=False)`` builds the real architecture on the meta
device, so ``pefomed plan`` and ``pefomed inspect`` size a 7B fine-tune offline. Training or
evaluating needs the weights: pass the hub id (``CONFIG_ONLY[name].hub_id``) or a local folder
holding the checkpoint instead. Sources of every config are in ``assets/configs/PROVENANCE.md``.
"""
from __future__ import annotations

from dataclasses import dataclass

from pefomed.errors import PefomedError
from pefomed.models.base import ModelBundle


@dataclass(frozen=True)
class ShippedConfig:
    name: str
    family: str
    hub_id: str
    description: str


SHIPPED: tuple[ShippedConfig, ...] = (
    ShippedConfig("llava-1.5-7b", "llava", "llava-hf/llava-1.5-7b-hf", "LLaVA 1.5 7B (CLIP ViT-L/336 + Vicuna 7B)"),
    ShippedConfig("llava-mistral-7b", "llava", "llava-hf/bakLlava-v1-hf",
                  "LLaVA with Mistral 7B (CLIP ViT-L/336), the LLaVA-Med v1.5 architecture"),
    ShippedConfig("qwen2-vl-2b", "qwen2-vl", "Qwen/Qwen2-VL-2B-Instruct", "Qwen2-VL 2B Instruct"),
    ShippedConfig("qwen2.5-vl-3b", "qwen2.5-vl", "Qwen/Qwen2.5-VL-3B-Instruct", "Qwen2.5-VL 3B Instruct"),
    ShippedConfig("qwen2.5-vl-7b", "qwen2.5-vl", "Qwen/Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL 7B Instruct"),
    ShippedConfig("smolvlm-256m", "idefics3", "HuggingFaceTB/SmolVLM-256M-Instruct", "SmolVLM 256M Instruct"),
    ShippedConfig("smolvlm-2.2b", "idefics3", "HuggingFaceTB/SmolVLM-Instruct", "SmolVLM 2.2B Instruct"),
    ShippedConfig("idefics3-8b", "idefics3", "HuggingFaceM4/Idefics3-8B-Llama3", "Idefics3 8B (Llama 3)"),
    ShippedConfig("paligemma2-3b", "paligemma", "google/paligemma2-3b-pt-224", "PaliGemma 2 3B, 224 px"),
    ShippedConfig("blip2-opt-2.7b", "blip2", "Salesforce/blip2-opt-2.7b", "BLIP-2 with OPT 2.7B"),
    ShippedConfig("gemma-3-4b", "gemma3", "google/gemma-3-4b-it", "Gemma 3 4B (SigLIP 896 px)"),
    ShippedConfig("medgemma-4b", "gemma3", "google/medgemma-4b-it", "MedGemma 4B (Gemma 3 4B architecture)"),
)


def weights_hint(entry: ShippedConfig) -> str:
    return (f"{entry.name} ships as config.json only (no weights); to train or evaluate, give the "
            f"checkpoint: --model {entry.hub_id} (online) or a local folder holding it")


def _builder(entry: ShippedConfig):
    def build(seed: int = 0, weights: bool = True, **_: object) -> ModelBundle:
        if weights:
            raise PefomedError(weights_hint(entry))
        from pefomed.models.meta import build_empty, config_dir, load_config

        bundle = build_empty(load_config(str(config_dir() / entry.name)), family=entry.family, name=entry.name,
                             source=entry.hub_id)
        return bundle

    return build


def register_shipped() -> None:
    """Register every shipped config as a config-only model."""
    from pefomed.models.registry import MODELS, ModelEntry

    for entry in SHIPPED:
        if entry.name not in MODELS:
            MODELS.add(entry.name, ModelEntry(entry.name, entry.family, _builder(entry),
                                              f"{entry.description}; config only (weights: {entry.hub_id})",
                                              tiny=False, config_only=True, hub_id=entry.hub_id))
