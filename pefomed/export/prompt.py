"""The prompt a family feeds its processor for one question, in one place.

Model cards and exported folders state it, and their plain-transformers snippets use it, so a
change of prompt (named templates) flows through :func:`prompt_template` alone.
"""
from __future__ import annotations

import importlib
from typing import Any

#: families whose processor receives the question alone (BLIP, ViLT)
_BARE = "{question}"


def prompt_template(family: Any, record: dict[str, Any] | None = None) -> str:
    """The text given to the processor, with ``{question}`` where the question goes.

    ``record`` (a ``pefomed_adapter.json``) wins when it holds the prompt the adapter was trained
    with (``prompt_format``, written by :func:`pefomed.models.prompts.prompt_format`, chat
    templates rendered); older folders get the family's built-in prompt as its ``encode`` uses it.
    """
    if record and isinstance(record.get("prompt_format"), str) and record["prompt_format"]:
        return record["prompt_format"]
    if getattr(family, "prompt", ""):
        return family.prompt
    module = importlib.import_module(type(family).__module__)
    template = getattr(module, "PROMPT", "") or _BARE
    if family.name == "paligemma":  # encode_suffix prepends the image token itself
        template = "<image>" + template
    return template


def fill(template: str, question: str) -> str:
    """The prompt for ``question``."""
    return template.format(question=question)
