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
                                         NUMBER_WORDS, ORGANS, PLANE_NAMES, PLANES, SIDES, SIZES, open_question,
                                         report_section)

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


def instruct_batch(step: int, batch_size: int, seed: int,
                   closed_p: float = QA_CLOSED_P) -> tuple[list, list[str], list[str]]:
    """Stage 2: the stage-1 batch of ``step`` with a share ``QA_P`` of rows turned into questions
    (a share ``closed_p`` of them yes/no)."""
    images, prompts, texts = report_batch(step, batch_size, seed)
    rng = np.random.default_rng([seed, step, 1])
    for k in range(batch_size):
        if rng.random() < QA_P:
            prompts[k], texts[k], _ = qa_row(synth_rad_study("train", step * batch_size + k, seed), rng, closed_p)
    return images, prompts, texts


def qa_row(study: Study, rng: np.random.Generator, closed_p: float = QA_CLOSED_P) -> tuple[str, str, str]:
    """(prompt, answer, kind): one question about one fact of ``study`` (``kind``, e.g. "organ/c"
    for a yes/no one, asked with probability ``closed_p``); yes/no answers are balanced."""
    lesion = study.count > 0
    kinds = GLOBAL_KINDS + (LESION_KINDS if lesion else ())
    kind = kinds[int(rng.integers(len(kinds)))]
    truth = bool(rng.random() < .5)
    if rng.random() >= closed_p:
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


#: yes/no wordings per kind of fact, "{v}" the value asked about ("{a}": a modality with its
#: article; "{n} {les}": a count as "two lesions"). Many per kind, in varied syntax, so that the
#: base learns what a question asks rather than a few strings: with two or three per kind it
#: answered synth-rad's closed questions 56% right on validation images zero-shot (its own 74%).
CLOSED_WORDINGS: dict[str, tuple[str, ...]] = {
    "modality": ("Is the modality {v}?", "Was {v} used?", "Is this study {a}?", "Is it {a}?",
                 "Is this image from {v}?", "Was this scan acquired with {v}?", "Could this be {a}?",
                 "Does this look like {a}?", "Is {v} the modality here?", "Was the image made by {v}?",
                 "Is the scan {a} study?", "Is this picture {a}?"),
    "organ": ("Is the body part the {v}?", "Was the {v} scanned?", "Does the scan cover the {v}?",
              "Is the {v} imaged?", "Is this the {v}?", "Does it show the {v}?", "Is the {v} visible here?",
              "Was this image taken of the {v}?", "Is the {v} in view?", "Does the study show the {v}?",
              "Is this a {v} image?", "Is this scan of the {v}?"),
    "plane": ("Is the plane {v}?", "Is the view {v}?", "Was it acquired {v}?", "Is the orientation {v}?",
              "Is this view {v}?", "Is the image {v}?", "Was it taken {v}?", "Is it {v}?",
              "Is {v} the plane here?", "Was the scan done {v}?", "Is the study {v}?"),
    "count": ("Is the number of lesions {v}?", "Is the lesion count {v}?", "Do you see {n} {les}?",
              "Do you count {n} {les}?", "Is the count of lesions {v}?", "Does it show {n} {les}?",
              "Does the image contain {n} {les}?", "Can you count {n} {les}?"),
    "size": ("Is the lesion size {v}?", "Does the lesion look {v}?", "Is it a {v} lesion?",
             "Is this a {v} lesion?", "Is the finding {v}?", "Is the lesion of {v} size?", "Is its size {v}?",
             "Would you call the lesion {v}?", "Does the finding look {v}?"),
    "side": ("Does the lesion lie on the {v}?", "Is the {v} side affected?", "Is the finding on the {v}?",
             "Is it on the {v}?", "Is the lesion on the {v} of the image?", "Does the {v} side show the lesion?",
             "Is the finding on the {v} side?", "Does the lesion sit on the {v}?"),
    "level": ("Does the lesion lie in the {v} half?", "Is the {v} half affected?", "Is the finding {v}?",
              "Is it in the {v} half?", "Is the lesion in the {v} part?", "Does the lesion sit {v}?",
              "Is the finding in the {v} region?", "Is the {v} region affected?"),
    "intensity": ("Does the lesion look {v}?", "Is the finding {v}?", "Is it {v}?", "Is this a {v} lesion?",
                  "Does the finding look {v}?", "Would you call the lesion {v}?", "Is the lesion {v} here?",
                  "Is the lesion seen as {v}?"),
}
#: presence and impression are asked in either direction: (wordings a lesion answers "yes" to,
#: wordings a lesion answers "no" to)
DIRECTED_WORDINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "presence": (("Does the study show a lesion?", "Is any lesion visible?", "Is there any lesion?",
                  "Is a lesion seen?", "Can you see a lesion?", "Does the image contain a lesion?",
                  "Are lesions present?", "Is there a lesion here?", "Do you see any lesions?",
                  "Is there a focal lesion?", "Are there lesions?"),
                 ("Is the study lesion-free?", "Is the scan without lesions?", "Is the image lesion-free?",
                  "Is the study free of lesions?", "Is there no lesion?", "Are no lesions seen?",
                  "Is the scan free of lesions?", "Is this study without lesions?")),
    "impression": (("Is the impression abnormal?", "Is the study abnormal?", "Is anything abnormal?",
                    "Is this abnormal?", "Is there an abnormal finding?", "Is the image abnormal?",
                    "Is it abnormal?", "Does this look abnormal?"),
                   ("Is the impression normal?", "Is the study normal?", "Is the image normal?", "Is it normal?",
                    "Does this look normal?", "Is this scan normal?", "Is everything normal?")),
}


def _closed_question(study: Study, kind: str, truth: bool, rng: np.random.Generator) -> tuple[str, bool]:
    """A yes/no question and its answer: about the true value when ``truth``, else about another one
    (presence and impression are asked in either direction instead)."""
    lesion = study.count > 0
    if kind in DIRECTED_WORDINGS:
        asks_lesion = truth == lesion if kind == "presence" else bool(rng.random() < .5)
        with_lesion, without = DIRECTED_WORDINGS[kind]
        wording = _one(rng, *(with_lesion if asks_lesion else without))
        return wording, asks_lesion == lesion

    def value(options, true_value):
        if truth:
            return true_value
        return options[int(rng.choice([i for i, o in enumerate(options) if o != true_value]))]

    if kind == "modality":
        code = value(MODALITIES, study.modality)
        fields = {"v": MODALITY_NAMES[code], "a": ARTICLE[code]}
    elif kind == "organ":
        fields = {"v": value(ORGANS, study.organ)}
    elif kind == "plane":
        fields = {"v": PLANE_NAMES[value(PLANES[study.modality], study.plane)]}
    elif kind == "count":
        k = int(value((0, 1, 2, 3), study.count))
        fields = {"v": COUNT_ANSWERS[k], "n": NUMBER_WORDS[k], "les": "lesion" if k == 1 else "lesions"}
    elif kind == "size":
        fields = {"v": value(SIZES, study.size)}
    elif kind == "side":
        fields = {"v": value(SIDES, study.side)}
    elif kind == "level":
        fields = {"v": value(LEVELS, study.level)}
    else:
        fields = {"v": INTENSITY_WORDS[study.modality][value(("hyper", "hypo"), study.intensity)]}
    return _one(rng, *CLOSED_WORDINGS[kind]).format(**fields), truth
