"""medvlm-tiny's pretraining data (``scripts/build_medvlm_tiny.py``): fresh synth-rad *train*
images every step, never synth-rad's VQA questions.

Stage 1 (captioning, as in LLaVA's first stage): an instruction asking for the report or one of its
sections, answered with that text. Stage 2 (instruction tuning, as in LLaVA's second stage): mostly
short questions about one fact of the image — yes/no (balanced per fact) or a one- or two-word
answer — in wordings that synth-rad's VQA templates never use, plus some stage-1 rows so the
reports are kept.
"""
from __future__ import annotations

import numpy as np

from pefomed.data.synth_rad import synth_rad_captions, synth_rad_study
from pefomed.data.synth_rad_render import Study
from pefomed.data.synth_rad_text import (ARTICLE, COUNT_ANSWERS, INTENSITY_WORDS, LEVELS, MODALITIES, MODALITY_NAMES,
                                         ORGANS, PLANE_NAMES, PLANES, SIDES, SIZES, open_question, report_section)

# Instructions asking for the report or one of its sections, varied as in LLaVA's captioning
# stage; none is a synth-rad question, and none has a one-word answer.
INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "Report": ("Report:", "Describe the image.", "What does this image show?", "Write the radiology report.",
               "Summarize this scan.", "How would you describe this image?", "Give a brief report of the study."),
    "Technique": ("Technique:", "What kind of study is this? Describe the technique.",
                  "Which modality, plane and body part? Describe.", "How was the image acquired?"),
    "Findings": ("Findings:", "What are the findings?", "Where are the findings, and what are they?",
                 "Are there findings? Describe them.", "Describe the lesions, if any.",
                 "How many findings are there, and where?"),
    "Impression": ("Impression:", "What is the impression?"),
}
SECTION_P = {"Report": .4, "Technique": .15, "Findings": .3, "Impression": .15}

#: Stage 2: the family's plain VQA prompt, so that the skill sits where fine-tuning will ask for it.
#: (An image-text-matching stage before it, "Statement: CT study. Correct?", reached only 61-67%
#: matching, and the adapters did not carry even that over to questions.)
QA_PROMPT = "<image>\nQuestion: {} Answer:"
QA_P = .8  # share of stage-2 rows that are instruction questions; the rest are stage-1 rows
QA_CLOSED_P = .6  # share of instruction questions that are yes/no
GLOBAL_KINDS = ("modality", "organ", "plane", "presence", "impression", "count")
LESION_KINDS = ("size", "side", "level", "intensity")  # asked about images with lesions only
#: the synth-rad question type whose open answer each kind of fact is answered with
VQA_TYPE = {"modality": "MODALITY", "organ": "ORGAN", "plane": "PLANE", "presence": "PRES", "impression": "ABN",
            "count": "COUNT", "size": "SIZE", "side": "POS", "level": "POS", "intensity": "ATTRIB"}


def report_batch(step: int, batch_size: int, seed: int) -> tuple[list, list[str], list[str]]:
    """Stage 1: fresh train images ``step*batch_size ...``, each with an instruction and the whole
    report or the section of it the instruction asks for (Technique / Findings / Impression)."""
    start = step * batch_size
    pairs = synth_rad_captions("train", batch_size, seed=seed, start=start)
    rng = np.random.default_rng([seed, step])
    prompts, texts = [], []
    for k, (_, caption) in enumerate(pairs):
        section = str(rng.choice(list(SECTION_P), p=list(SECTION_P.values())))
        options = INSTRUCTIONS[section]
        prompts.append("<image>\n" + options[int(rng.integers(len(options)))])
        study = synth_rad_study("train", start + k, seed)
        texts.append(caption if section == "Report" else report_section(study, section))
    return [p[0] for p in pairs], prompts, texts


def instruct_batch(step: int, batch_size: int, seed: int) -> tuple[list, list[str], list[str]]:
    """Stage 2: the stage-1 batch of ``step`` with a share ``QA_P`` of rows turned into questions."""
    images, prompts, texts = report_batch(step, batch_size, seed)
    rng = np.random.default_rng([seed, step, 1])
    for k in range(batch_size):
        if rng.random() < QA_P:
            prompts[k], texts[k], _ = qa_row(synth_rad_study("train", step * batch_size + k, seed), rng)
    return images, prompts, texts


def qa_row(study: Study, rng: np.random.Generator) -> tuple[str, str, str]:
    """(prompt, answer, kind): one question about one fact of ``study`` (``kind``, e.g. "organ/c"
    for a yes/no one); yes/no answers are balanced."""
    lesion = study.count > 0
    kinds = GLOBAL_KINDS + (LESION_KINDS if lesion else ())
    kind = kinds[int(rng.integers(len(kinds)))]
    truth = bool(rng.random() < .5)
    if rng.random() >= QA_CLOSED_P:
        question, answer = _open_question(study, kind, rng)
        return QA_PROMPT.format(question), answer, f"{kind}/o"
    question, truth = _closed_question(study, kind, truth, rng)
    return QA_PROMPT.format(question), "yes" if truth else "no", f"{kind}/c"


def _one(rng: np.random.Generator, *options: str) -> str:
    return options[int(rng.integers(len(options)))]


OPEN_WORDINGS: dict[str, tuple[str, ...]] = {
    "modality": ("Name the modality.", "Which scanner made this image?"),
    "organ": ("Name the body part.", "Which body part was scanned?"),
    "plane": ("Name the plane.", "Which plane or view is it?"),
    "presence": ("Name the finding.", "What is the finding, if any?"),
    "impression": ("Give the impression in one word.", "Normal study or abnormal study?"),
    "count": ("Count the lesions.", "What is the number of lesions?"),
    "size": ("Describe the lesion size.", "What is the size of the lesion?"),
    "side": ("Locate the lesion.", "Where does the lesion lie?"),
    "level": ("Locate the lesion.", "Where does the lesion lie?"),
    "intensity": ("Describe the lesion intensity.", "How does the lesion look?"),
}


def _open_question(study: Study, kind: str, rng: np.random.Generator) -> tuple[str, str]:
    """A short-answer question and its answer: synth-rad's open answer about the same fact."""
    # a wording is drawn for every kind, then the asked one used: the order of random draws
    # that the shipped weights were built with
    wording = {k: _one(rng, *options) for k, options in OPEN_WORDINGS.items()}[kind]
    # only the answer is taken, so a throwaway generator: ``rng``'s draws stay as they were
    return wording, open_question(VQA_TYPE[kind], study, np.random.default_rng(0))[1]


def _closed_question(study: Study, kind: str, truth: bool, rng: np.random.Generator) -> tuple[str, bool]:
    """A yes/no question and its answer: about the true value when ``truth``, else about another one
    (presence and impression are asked in either direction instead)."""
    def value(options, true_value):
        if truth:
            return true_value
        return options[int(rng.choice([i for i, o in enumerate(options) if o != true_value]))]

    lesion = study.count > 0
    if kind == "modality":
        code = value(MODALITIES, study.modality)
        m = MODALITY_NAMES[code]
        return _one(rng, f"Is the modality {m}?", f"Was {m} used?", f"Is this study {ARTICLE[code]}?"), truth
    if kind == "organ":
        o = value(ORGANS, study.organ)
        return _one(rng, f"Is the body part the {o}?", f"Was the {o} scanned?",
                    f"Does the scan cover the {o}?"), truth
    if kind == "plane":
        p = PLANE_NAMES[value(PLANES[study.modality], study.plane)]
        return _one(rng, f"Is the plane {p}?", f"Is the view {p}?", f"Was it acquired {p}?"), truth
    if kind == "presence":
        if truth == lesion:
            return _one(rng, "Does the study show a lesion?", "Is any lesion visible?"), lesion
        return _one(rng, "Is the study lesion-free?", "Is the scan without lesions?"), not lesion
    if kind == "impression":
        if rng.random() < .5:
            return _one(rng, "Is the impression abnormal?", "Is the study abnormal?"), lesion
        return _one(rng, "Is the impression normal?", "Is the study normal?"), not lesion
    if kind == "count":
        k = COUNT_ANSWERS[int(value((0, 1, 2, 3), study.count))]
        return _one(rng, f"Is the number of lesions {k}?", f"Is the lesion count {k}?"), truth
    if kind == "size":
        z = value(SIZES, study.size)
        return _one(rng, f"Is the lesion size {z}?", f"Does the lesion look {z}?"), truth
    if kind == "side":
        d = value(SIDES, study.side)
        return _one(rng, f"Does the lesion lie on the {d}?", f"Is the {d} side affected?"), truth
    if kind == "level":
        lv = value(LEVELS, study.level)
        return _one(rng, f"Does the lesion lie in the {lv} half?", f"Is the {lv} half affected?"), truth
    w = INTENSITY_WORDS[study.modality][value(("hyper", "hypo"), study.intensity)]
    return _one(rng, f"Does the lesion look {w}?", f"Is the finding {w}?"), truth
