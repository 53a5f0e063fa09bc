"""Prompt templates: how a question becomes the text a model is trained and asked on.

One function, :func:`build_prompt`, turns (question, template, bundle) into the prompt; training,
evaluation, prediction and export all go through it, so an adapter is always asked the way it was
trained. A template is chosen per run by a *spec* string (``--prompt-template``):

- ``"auto"`` (default): ``"chat"`` when the checkpoint's processor/tokenizer has a chat template,
  else ``"plain"``;
- ``"plain"``: the family's built-in prompt, e.g. ``"<image>\\nQuestion: {question} Answer:"``;
- ``"chat"``: the checkpoint's own chat template, one user turn (image + question) and the
  generation prompt (``apply_chat_template(..., add_generation_prompt=True)``);
- a format string with ``{question}`` (and optionally ``{image}``, the family's image placeholder,
  put in front when absent): ``"{image}Q: {question}\\nA:"``; typed inline, ``\\n`` and ``\\t``
  (backslash + letter) mean a newline and a tab;
- a Jinja chat template (contains ``{%`` or ``{{``), rendered like a checkpoint's chat template
  with ``messages`` = ``[{"role": "user", "content": [{"type": "image"}, {"type": "text",
  "text": question}]}]`` and ``add_generation_prompt`` = true;
- a path to a file holding either of the last two.

The resolved template (kind + text) is recorded in ``run.json`` and in the adapter folder
(``pefomed_adapter.json``) and reapplied when the adapter is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pefomed.errors import PefomedError

NAMED: tuple[str, ...] = ("auto", "plain", "chat")
KINDS: tuple[str, ...] = ("plain", "chat", "format", "jinja")


@dataclass(frozen=True)
class PromptTemplate:
    """A resolved template: ``kind`` is one of :data:`KINDS`; ``text`` the format string or Jinja
    (empty for ``plain``, which is the family's, and for ``chat``, which is the checkpoint's)."""

    kind: str
    text: str = ""
    source: str = ""  # what the user asked for ("auto", a file path, ...), for the record

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PefomedError(f"prompt template kind must be one of {', '.join(KINDS)}, but got {self.kind!r}")

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptTemplate:
        return cls(kind=data["kind"], text=data.get("text", ""), source=data.get("source", ""))

    def describe(self) -> str:
        """One line for tables: ``chat (checkpoint)``, ``format: Q: {question} A:`` ..."""
        if self.kind == "plain":
            return "plain (family default)"
        if self.kind == "chat":
            return "chat (the checkpoint's chat template)"
        text = " ".join(self.text.split())
        return f"{self.kind}: {text[:60]}{'...' if len(text) > 60 else ''}"


def chat_template_of(bundle: Any) -> str | None:
    """The chat template of the bundle's processor, else of its tokenizer, else None."""
    for obj in (bundle.processor, getattr(bundle.processor, "tokenizer", None)):
        template = getattr(obj, "chat_template", None) if obj is not None else None
        if isinstance(template, str) and template.strip():
            return template
    return None


def resolve_template(spec: str | PromptTemplate | None, bundle: Any) -> PromptTemplate:
    """The :class:`PromptTemplate` for ``spec`` on ``bundle`` (see the module docstring)."""
    if isinstance(spec, PromptTemplate):
        template = spec
    else:
        template = _parse(spec or "auto", bundle)
    _check_applies(template, bundle)
    return template


def apply_template(bundle: Any, spec: str | PromptTemplate | None) -> PromptTemplate:
    """Resolve ``spec`` and make it the bundle's template (``bundle.prompt_template``)."""
    template = resolve_template(spec, bundle)
    bundle.prompt_template = template
    return template


def template_of(bundle: Any) -> PromptTemplate:
    """The bundle's template; resolved from ``"auto"`` (and kept) the first time it is asked for."""
    template = getattr(bundle, "prompt_template", None)
    if template is None:
        template = apply_template(bundle, "auto")
    return template


def build_prompt(question: str, bundle: Any, template: PromptTemplate | None = None) -> str:
    """The prompt text for ``question``: what the family's processor is given (before the answer)."""
    template = template or template_of(bundle)
    family = bundle.family
    if template.kind == "plain":
        return family.prompt.format(question=question)
    if template.kind == "format":
        text = template.text if "{image}" in template.text else "{image}" + template.text
        return _format(text, question=question, image=family.image_placeholder)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    chat = template.text if template.kind == "jinja" else chat_template_of(bundle)
    if chat is None:
        raise PefomedError(f"model {bundle.name!r} has no chat template; use --prompt-template plain "
                           "or give a Jinja template")
    try:
        text = _render_chat(bundle, messages, chat)
    except Exception as exc:  # jinja2 raises several types for a bad template
        raise PefomedError(f"the chat template failed to render ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())}); fix the template or use --prompt-template plain") from None
    marker = family.image_placeholder.strip()
    if marker and marker not in text:
        raise PefomedError(f"the chat template renders no image placeholder {marker!r} for {family.name} "
                           f"(got {text[:80]!r}); emit it for {{'type': 'image'}} content")
    return _without_double_bos(text, bundle.tokenizer)


def prompt_format(bundle: Any, template: PromptTemplate | None = None) -> str:
    """The prompt as a format string with ``{question}``: what a plain transformers user fills in
    to ask the way the adapter was trained (model cards and exported folders record it)."""
    sentinel = "\x00QUESTION\x00"
    text = build_prompt(sentinel, bundle, template)
    return text.replace("{", "{{").replace("}", "}}").replace(sentinel, "{question}")


def _without_double_bos(text: str, tok: Any) -> str:
    """Chat templates of Llama/Gemma checkpoints write the BOS token; the processor adds one too
    when it tokenizes, so drop the template's (as ``apply_chat_template(tokenize=True)`` does)."""
    bos = getattr(tok, "bos_token", None)
    if not bos or not text.startswith(bos):
        return text
    ids = tok("x")["input_ids"]
    return text[len(bos):] if ids and ids[0] == tok.bos_token_id else text


def _render_chat(bundle: Any, messages: list, chat: str) -> str:
    kw = dict(chat_template=chat, add_generation_prompt=True, tokenize=False)
    renderer = bundle.processor if hasattr(bundle.processor, "apply_chat_template") else bundle.tokenizer
    try:
        return renderer.apply_chat_template(messages, **kw)
    except AttributeError:  # SmolVLM's processor reaches for the video processor we leave out
        return bundle.tokenizer.apply_chat_template(messages, **kw)


def _parse(spec: str, bundle: Any) -> PromptTemplate:
    if not isinstance(spec, str) or not spec.strip():
        raise PefomedError(f"prompt template must be auto, plain, chat, a format string with {{question}}, "
                           f"a Jinja template or a file, but got {spec!r}")
    if spec == "auto":
        kind = "chat" if chat_template_of(bundle) is not None else "plain"
        return PromptTemplate(kind, source="auto")
    if spec in ("plain", "chat"):
        return PromptTemplate(spec, source=spec)
    text, source = spec, "inline"
    if "{" not in spec and Path(spec).expanduser().is_file():
        text, source = Path(spec).expanduser().read_text(encoding="utf-8"), spec
    if "{%" in text or "{{" in text:
        return PromptTemplate("jinja", text, source)
    if "{question}" in text:
        if source == "inline":  # typed on a command line, "\n" means a newline
            text = text.replace("\\n", "\n").replace("\\t", "\t")
        _format(text if "{image}" in text else "{image}" + text, question="q", image="")
        return PromptTemplate("format", text, source)
    raise PefomedError(f"prompt template {spec[:60]!r} is not auto, plain or chat, has no {{question}} "
                       "placeholder and is not Jinja ({% ... %}) or an existing file; add {question}")


def _format(text: str, **values: str) -> str:
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise PefomedError(f"prompt template {text[:60]!r} has a bad placeholder ({type(exc).__name__}: {exc}); "
                           "use only {question} and {image}, and double other braces ({{ }})") from None


def _check_applies(template: PromptTemplate, bundle: Any) -> None:
    family = bundle.family
    if not family.prompt and template.kind != "plain":
        raise PefomedError(f"model family {family.name!r} takes the question alone (no prompt text); "
                           "drop --prompt-template or use plain")
    if template.kind == "chat" and chat_template_of(bundle) is None:
        raise PefomedError(f"model {bundle.name!r} has no chat template; use --prompt-template plain "
                           "(or auto), or give a Jinja template")
