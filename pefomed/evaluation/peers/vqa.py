"""Exact match under the VQA-eval normalisation alone (``processPunctuation`` + ``processDigitArticle``).

Source: the official VQA evaluation as copied in github jinlHe/PeFoMed @ 5242449
``pefomed/common/vqa_tools/vqa_eval.py`` (``VQAEval.evaluate``)::

    resAns = resAns.replace("\\n", " ").replace("\\t", " ").strip()
    resAns = self.processPunctuation(resAns)
    resAns = self.processDigitArticle(resAns)

VQA's consensus score (``min(1, matches / 3)`` over ten annotators) needs ten references; Med-VQA
sets have one, so this family applies the same normalisation to prediction *and* reference and
scores equality -- what papers mean by "VQA-normalised accuracy". Unlike ``pefomed-paper`` it
keeps commas inside a token and does not rewrite "x ray". Printed like VQA's ``n=2``:
``round(100 * sum / n, 2)`` with two decimals.
"""
from __future__ import annotations

from pefomed.evaluation.peers.vqa_text import vqa_normalize

SOURCE = "jinlHe/PeFoMed@5242449:pefomed/common/vqa_tools/vqa_eval.py (VQAEval normalisation)"


def normalize(text: str) -> str:
    """The VQA steps applied to an answer: tabs/newlines to spaces, strip, punctuation, digits/articles."""
    return vqa_normalize(str(text).replace("\n", " ").replace("\t", " ").strip())


def exact(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))
