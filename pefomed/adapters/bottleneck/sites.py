"""Where bottleneck adapters go: the attention and FFN output projections of transformer layers.

A *transformer layer* is a child of an ``nn.ModuleList`` (``layers.3``, ``layer.3``,
``blocks.3``); only the outermost such child counts, so Linears outside the layer stacks
(LLaVA's projector, Idefics3's connector, Qwen's merger, a SigLIP pooling head, ``lm_head``)
are never sites. Inside a layer, a Linear is matched by its name relative to the layer; the
patterns cover every registered family:

=====================  ==================================  ====================================
family                 attention output                     FFN output
=====================  ==================================  ====================================
Llama, Qwen2, Gemma    ``self_attn.o_proj``                 ``mlp.down_proj``
CLIP, SigLIP, Idefics  ``self_attn.out_proj``               ``mlp.fc2``
Qwen2-VL(2.5) vision   ``attn.proj``                        ``mlp.fc2`` / ``mlp.down_proj``
BLIP(-2) vision        ``self_attn.projection``             ``mlp.fc2``
OPT (BLIP-2 LM)        ``self_attn.out_proj``               ``fc2``
BERT-style (ViLT,      ``attention.output.dense``           ``output.dense`` /
BLIP text, Q-Former)                                        ``output_query.dense``
=====================  ==================================  ====================================

Cross-attention outputs (``crossattention.output.dense``) are left out, as AdapterHub's
``cross_adapter=False`` default does. ``Family.layer_kind`` is not used: it marks every
attention/MLP Linear (q, k, v, up, ...), while a bottleneck needs the one output projection.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from torch import nn

from pefomed.adapters.bottleneck.config import PRESETS
from pefomed.adapters.bottleneck.layer import base_of, innermost
from pefomed.errors import UnknownNameError, UnsupportedError, did_you_mean
from pefomed.models.base import PARTS, ModelBundle

ATTENTION_OUTPUT = (
    r"(self_attn|attn|attention|self_attention)\.(o_proj|out_proj|proj|projection|dense|c_proj|o)",
    r"attention\.output\.dense",
)
FFN_OUTPUT = (
    r"(mlp|ffn|feed_forward)\.(down_proj|fc2|c_proj|w2|wo|dense_4h_to_h)",
    r"fc2",
    r"output(_query)?\.dense",
)


def transformer_layers(model: nn.Module) -> list[str]:
    """Names of the outermost children of ``nn.ModuleList``s, in model order."""
    layers: list[str] = []
    for name, module in base_of(model).named_modules():
        if isinstance(module, nn.ModuleList) and not any(_under(name, x) for x in layers):
            layers.extend(f"{name}.{idx}" if name else idx for idx, _ in module.named_children())
    return layers


def site_kind(relative_name: str) -> str | None:
    """"attention" or "ffn" for an output projection named relative to its layer, else None."""
    if any(re.fullmatch(p, relative_name) for p in ATTENTION_OUTPUT):
        return "attention"
    if any(re.fullmatch(p, relative_name) for p in FFN_OUTPUT):
        return "ffn"
    return None


def select_bottleneck_sites(bundle: ModelBundle, parts: Iterable[str], preset: str) -> list[str]:
    """Full names of the Linears in ``parts`` whose outputs get an adapter under ``preset``.

    ``houlsby``: attention output and FFN output of every layer; ``pfeiffer``: FFN output only.
    Names are relative to the transformers model (see :mod:`.layer` on peft wrappers).
    """
    parts = _check_parts(parts)
    if preset not in PRESETS:
        raise UnknownNameError(did_you_mean(str(preset), PRESETS, "bottleneck preset"))
    after_attention, after_ffn, _ = PRESETS[preset]
    kinds = {kind for kind, on in (("attention", after_attention), ("ffn", after_ffn)) if on}
    found = _all_sites(bundle)
    sites = [name for name, (part, kind) in found.items() if part in parts and kind in kinds]
    if not sites:
        having = sorted({part for part, kind in found.values() if kind in kinds})
        raise UnsupportedError(
            f"no {preset} bottleneck sites in part(s) {', '.join(parts)} of {bundle.name} "
            f"(family {bundle.family.name}): adapters follow attention/FFN outputs of transformer "
            f"layers; use part(s) {', '.join(having) or '(none)'} instead"
        )
    return sites


def _all_sites(bundle: ModelBundle) -> dict[str, tuple[str, str]]:
    """Every candidate site -> (part, kind), in model order; heads and unknown parts excluded."""
    base = base_of(bundle.model)
    anatomy = bundle.family.anatomy
    layers = transformer_layers(base)
    found: dict[str, tuple[str, str]] = {}
    for name, module in base.named_modules():
        if name.endswith(".base_layer") or not isinstance(innermost(module), nn.Linear):
            continue
        layer = next((x for x in layers if _under(name, x) and name != x), None)
        part = anatomy.part_of(name)
        if layer is None or part not in PARTS:
            continue
        kind = site_kind(name[len(layer) + 1:])
        if kind is not None:
            found[name] = (part, kind)
    return found


def _check_parts(parts: Iterable[str]) -> tuple[str, ...]:
    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    if not parts:
        raise UnknownNameError(f"no parts given for bottleneck sites; choose from {', '.join(PARTS)}")
    for part in parts:
        if part not in PARTS:
            raise UnknownNameError(did_you_mean(str(part), PARTS, "model part"))
    return parts


def _under(name: str, prefix: str) -> bool:
    return name.startswith(prefix + ".")
