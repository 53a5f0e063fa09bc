"""Peer-exact scorers: each module re-implements one published Med-VQA scoring script.

Importing this package registers one protocol family per peer (see
:data:`pefomed.evaluation.protocols.FAMILIES`):

=================  =============================================================================
``llava-med``      microsoft/LLaVA-Med@b9a98a7 ``llava/eval/run_eval.py`` (+ e9972cf closed rule)
``pefomed-paper``  jinlHe/PeFoMed@5242449 ``MedVQAEval`` (``pefomed/common/medvqa_tools/vqa_eval.py``)
``vqa``            the VQA-eval normalisation alone (processPunctuation + processDigitArticle)
``mevf``           aioz-ai/MICCAI19-MedVQA ``test.py`` + ``tools/compute_softscore.py``
=================  =============================================================================
"""
from __future__ import annotations

from pefomed.evaluation.peers import llava_med, mevf, pefomed_paper, vqa
from pefomed.evaluation.protocols import register_family, register_protocol


def _tabulate_g(total: float, n: int) -> str:
    """``run_eval.py``: ``tabulate([[name, score*100], ...])``, whose float format is ``g``."""
    return format(total / n * 100, "g")


def _llava_med() -> None:
    open_rows = (  # (suffix, label printed by run_eval.py, metric)
        ("exact", "exact match score", llava_med.exact_match_score),
        ("f1", "f1 score", llava_med.f1),
        ("precision", "precision", llava_med.precision),
        ("recall", "recall", llava_med.recall),
        ("bleu", "bleu_score", llava_med.bleu),
        ("bleu-1", "bleu_score_1", llava_med.bleu_1),
        ("bleu-2", "bleu_score_2", llava_med.bleu_2),
        ("bleu-3", "bleu_score_3", llava_med.bleu_3),
    )
    for suffix, label, metric in open_rows:
        register_protocol(f"llava-med-{suffix}", f"open questions: LLaVA-Med run_eval.py '{label}' "
                          f"({llava_med.SOURCE})", "open", metric, family="llava-med", label=label)
    register_protocol(
        "llava-med-open-accuracy",
        "open questions: LLaVA-Med run_eval.py 'open accuracy' -- the training open answer most covered "
        "by the prediction must be the reference (needs the train split)",
        "open", llava_med.open_accuracy, family="llava-med", label="open accuracy",
        prepare=llava_med.open_candidates,
    )
    register_protocol(
        "llava-med-closed",
        "closed questions: prediction mentions yes/no and contains the reference as a substring, misses "
        f"count ('yes/no accuracy', {llava_med.SOURCE})",
        "closed", llava_med.closed_hit, family="llava-med", label="yes/no accuracy",
    )
    register_protocol(
        "llava-med-closed-e9972cf",
        "closed questions: LLaVA-Med's closed accuracy before its fix: a miss that mentions yes/no is "
        f"dropped from the denominator ({llava_med.SOURCE_PREFIX})",
        "closed", llava_med.closed_hit_prefix, family="llava-med", label="yes/no accuracy (e9972cf)",
    )
    register_family(
        "llava-med", "LLaVA-Med run_eval.py (the table it prints; 'open accuracy' only with a train split)",
        llava_med.SOURCE,
        [f"llava-med-{s}" for s, _, _ in open_rows] + ["llava-med-closed", "llava-med-closed-e9972cf"],
        _tabulate_g, headline=["llava-med-closed", "llava-med-recall"],
    )


def _pefomed_paper() -> None:
    for subset, label in (("closed", "CLOSED"), ("open", "OPEN"), ("all", "Overall")):
        name = "pefomed-paper-" + ("overall" if subset == "all" else subset)
        register_protocol(name, f"{subset} questions: PeFoMed MedVQAEval exact match ('{label}', "
                          f"{pefomed_paper.SOURCE})", subset, pefomed_paper.exact,
                          family="pefomed-paper", label=label)
    register_family("pefomed-paper", "PeFoMed MedVQAEval: exact match per answer type and overall",
                    pefomed_paper.SOURCE,
                    ["pefomed-paper-closed", "pefomed-paper-open", "pefomed-paper-overall"],
                    pefomed_paper.format_value, headline=["pefomed-paper-overall"])


def _vqa() -> None:
    for subset in ("closed", "open", "all"):
        name = "vqa-" + ("overall" if subset == "all" else subset)
        register_protocol(name, f"{subset} questions: exact match after VQA-eval processPunctuation + "
                          "processDigitArticle on both answers", subset, vqa.exact, family="vqa",
                          label=subset if subset != "all" else "overall")
    register_family("vqa", "exact match under the VQA-eval normalisation alone", vqa.SOURCE,
                    ["vqa-closed", "vqa-open", "vqa-overall"], pefomed_paper.format_value,
                    headline=["vqa-overall"])


def _keep_freeform(prediction) -> bool:
    return mevf.is_freeform(prediction.phrase_type)


def _mevf() -> None:
    for subset, label in (("closed", "CLOSED"), ("open", "OPEN"), ("all", "ALL")):
        register_protocol(f"mevf-{subset}", f"{subset} free-form questions: MEVF classifier accuracy over "
                          f"the training answer list ('{label}' score_percent, {mevf.SOURCE}; needs the "
                          "train split)", subset, mevf.classifier_hit, family="mevf", label=label,
                          keep=_keep_freeform, prepare=mevf.answer_classes)
    register_family("mevf", "MEVF test.py: answer-list accuracy on free-form questions, by answer type",
                    mevf.SOURCE, ["mevf-closed", "mevf-open", "mevf-all"], mevf.format_value,
                    headline=["mevf-all"])


_llava_med()
_pefomed_paper()
_vqa()
_mevf()
