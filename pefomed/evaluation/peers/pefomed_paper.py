"""PeFoMed's ``MedVQAEval``, re-implemented exactly.

Source: github jinlHe/PeFoMed @ 5242449 ``pefomed/common/medvqa_tools/vqa_eval.py``
(``MedVQAEval.preprocess_answer`` / ``evaluate`` / ``setAccuracy``), called by
``pefomed/tasks/vqa.py`` (``MedVQATask._report_metrics``, ``n=2``)::

    def preprocess_answer(self, answer):
        answer = str(answer)
        answer = self.processDigitArticle(self.processPunctuation(answer))
        answer = answer.replace(',', '').replace('x ray', 'xray').replace('\\n', ' ').replace('\\t', ' ')
        return answer
    ...
    if gtAns == resAns: gtAcc = 1
    else:               gtAcc = 0.0
    ...
    self.accuracy['overall'] = round(100 * float(sum(accQA)) / len(accQA), self.n)
    self.accuracy['perAnswerType'] = {ansType: round(100 * float(sum(...)) / len(...), self.n) ...}

``_report_metrics`` logs ``"Overall Accuracy is: %.02f"`` and ``"%s : %.02f"`` per answer type
(CLOSED, OPEN). No soft VQA score: one reference, exact equality after the normalisation.
"""
from __future__ import annotations

from pefomed.evaluation.peers.vqa_text import process_digit_article, process_punctuation

SOURCE = "jinlHe/PeFoMed@5242449:pefomed/common/medvqa_tools/vqa_eval.py (MedVQAEval) via pefomed/tasks/vqa.py"


def preprocess_answer(answer: object) -> str:
    """``MedVQAEval.preprocess_answer``."""
    answer = process_digit_article(process_punctuation(str(answer)))
    return answer.replace(",", "").replace("x ray", "xray").replace("\n", " ").replace("\t", " ")


def exact(prediction: str, reference: str) -> float:
    """``gtAcc``: 1 when the preprocessed answers are equal, else 0."""
    return float(preprocess_answer(reference) == preprocess_answer(prediction))


def format_value(total: float, n: int) -> str:
    """How ``_report_metrics`` prints an accuracy: ``"%.02f" % round(100 * float(sum) / len, 2)``."""
    return "%.02f" % round(100 * float(total) / n, 2)
