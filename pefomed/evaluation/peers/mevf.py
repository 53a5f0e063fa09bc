"""MEVF's VQA-RAD classifier accuracy, re-implemented exactly.

Source: github aioz-ai/MICCAI19-MedVQA @ 1868d90 ``test.py`` (``get_result``) and
``tools/compute_softscore.py`` (the answer list and targets).

- The answer classes are every *training* answer after ``preprocess_answer``
  (``filter_answers(train_answers, 0)`` -> ``create_ans2label``), all answer types together.
- A test question's target is its preprocessed answer's class, or no class at all when that
  answer never occurs in training (``compute_target``: ``if answers in ans2label: ...``), so such
  a question scores 0 whatever the model says.
- ``get_result`` scores only the free-form questions, skipping the rephrased ones::

      for v, q, a, ans_type, q_types, p_type in iter(dataloader):
          if p_type[0] != "freeform":
              continue
          ...
          batch_score = compute_score_with_logits(final_preds, a.data).sum()   # argmax == target
          result[ans_type[0]]['count'] += 1.0; result[ans_type[0]]['true'] += float(batch_score)
      result[i]['score_percent'] = round(result[i]['score']*100, 1)   # for CLOSED, OPEN, ALL

  On VQA-RAD's MEVF test split that is 308 of the 451 questions (143 are ``para``). A dataset
  without ``phrase_type`` (everything but VQA-RAD) keeps all its questions.

For a generative model the prediction string stands for the argmax class: it scores when it
preprocesses to the reference's class and that class exists.
"""
from __future__ import annotations

from collections.abc import Sequence

from pefomed.evaluation.peers.vqa_text import process_digit_article, process_punctuation

SOURCE = "aioz-ai/MICCAI19-MedVQA@1868d90:test.py + tools/compute_softscore.py"


def preprocess_answer(answer: object) -> str:
    """``compute_softscore.preprocess_answer`` (PeFoMed's without the tab/newline step)."""
    answer = process_digit_article(process_punctuation(str(answer)))
    return answer.replace(",", "").replace("x ray", "xray")


def answer_classes(train_answers: Sequence[tuple[str, str]]) -> frozenset[str]:
    """``ans2label``'s keys: the preprocessed training answers (every answer type)."""
    return frozenset(preprocess_answer(a) for a, _ in train_answers)


def classifier_hit(prediction: str, reference: str, classes: frozenset[str]) -> float:
    """1 when the prediction is the reference's class and the reference has a class."""
    target = preprocess_answer(reference)
    return float(target in classes and preprocess_answer(prediction) == target)


def is_freeform(phrase_type: str) -> bool:
    """``p_type[0] != "freeform"`` questions are skipped; no phrase type at all keeps the question."""
    return phrase_type in ("", "freeform")


def format_value(total: float, n: int) -> str:
    """``round(score * 100, 1)`` as ``print(result)`` shows it."""
    return repr(round(total / n * 100, 1))
