"""LLaVA-style annotation files, recognised by the generic loader and turned into plain rows.

Two layouts, detected from the first row (when no ``fields=`` mapping is given):

- **Conversations** (LLaVA, LLaVA-Med and PeFoMed instruction data)::

      {"id": "x1", "image": "img/1.jpg", "conversations": [
          {"from": "human", "value": "<image>\\nIs there a fracture?"},
          {"from": "gpt", "value": "No"}]}

  Each human turn and the gpt turn after it become one record (``from`` may also be
  ``user``/``assistant``); ids are ``<id>-<turn>`` (``x1-0``, ``x1-1`` ...), the ``<image>``
  marker is dropped from the question. Multi-turn conversations give one record per pair, each
  asked on its own: earlier turns are *not* given as context. A human turn without an answer is
  a bad record. ``answer_type`` (OPEN/CLOSED, LLaVA-Med's med-VQA files have it) applies to every
  pair of the conversation.
- **LLaVA-Med question files** (``llava/eval/model_vqa.py``'s ``--question-file``)::

      {"question_id": 17, "image": "img/17.jpg", "text": "<image>\\nWhat organ is shown?",
       "gpt4_answer": "The liver."}

  ``text`` is the question, ``question_id`` the id, and the reference answer is ``answer`` or,
  as in LLaVA-Med's ``llava_med_eval_qa50_qa.jsonl``, ``gpt4_answer``.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

from pefomed.data.context import LoadContext
from pefomed.data.sources import Row

HUMAN = ("human", "user")
ASSISTANT = ("gpt", "assistant")
IMAGE_MARKER = "<image>"
#: reference-answer columns of a LLaVA-Med question file, in order of preference
ANSWER_KEYS = ("answer", "gpt4_answer")


def layout_of(row: dict) -> str | None:
    """``"conversations"``, ``"question-file"`` or None (a plain row) for one raw row."""
    if isinstance(row.get("conversations"), list):
        return "conversations"
    if "question_id" in row and "text" in row and "question" not in row:
        return "question-file"
    return None


def normalise_rows(rows: Iterable[Row], ctx: LoadContext) -> Iterator[Row]:
    """``rows`` as plain image/question/answer rows when they are in a LLaVA layout, else unchanged."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return iter(())
    layout = layout_of(first[1])
    chained = itertools.chain([first], rows)
    if layout == "conversations":
        return _conversation_rows(chained, ctx)
    if layout == "question-file":
        return _question_file_rows(chained)
    return chained


def strip_marker(text: object) -> object:
    """The question without LLaVA's ``<image>`` marker and the newline after it."""
    if not isinstance(text, str):
        return text
    return text.replace(IMAGE_MARKER, "").strip()


def _conversation_rows(rows: Iterable[Row], ctx: LoadContext) -> Iterator[Row]:
    for where, row in rows:
        turns = row.get("conversations")
        if not isinstance(turns, list) or not turns:
            ctx.bad(where, "has no conversations list", "give a list of {from, value} turns")
            continue
        base = {k: v for k, v in row.items() if k not in ("conversations", "id")}
        given_id = row.get("id")
        pair, i = 0, 0
        while i < len(turns):
            turn = turns[i] if isinstance(turns[i], dict) else {}
            if turn.get("from") not in HUMAN:
                ctx.bad(dataclasses.replace(where, id=str(given_id) if given_id else None),
                        f"conversation turn {i} is from {turn.get('from')!r}, expected a human turn",
                        "alternate human and gpt turns, starting with human")
                break
            answer = turns[i + 1] if i + 1 < len(turns) and isinstance(turns[i + 1], dict) else {}
            if answer.get("from") not in ASSISTANT:
                ctx.bad(dataclasses.replace(where, id=str(given_id) if given_id else None),
                        f"conversation turn {i} has no gpt answer after it",
                        "follow every human turn with a gpt turn")
                break
            out = dict(base, question=strip_marker(turn.get("value")), answer=answer.get("value"))
            if given_id not in (None, ""):
                out["id"] = f"{given_id}-{pair}"
            yield where, out
            pair, i = pair + 1, i + 2


def _question_file_rows(rows: Iterable[Row]) -> Iterator[Row]:
    for where, row in rows:
        out = {k: v for k, v in row.items() if k not in ("question_id", "text", *ANSWER_KEYS)}
        out["id"] = row.get("question_id")
        out["question"] = strip_marker(row.get("text"))
        answer = next((row[k] for k in ANSWER_KEYS if row.get(k) not in (None, "")), None)
        if answer is not None:
            out["answer"] = answer
        yield where, out
