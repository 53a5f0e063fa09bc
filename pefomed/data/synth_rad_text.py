"""Questions (VQA-RAD's types) and report-style captions about a synth-rad :class:`Study`.

Closed questions are balanced between yes and no (see :func:`closed_question` for how). Open answers are short (one or two words), written
as the reports write them ("CT", "PA", "two"): exact match after lower-casing, or VQA
normalisation (which maps "two" to "2"), scores them.
"""
from __future__ import annotations

import numpy as np

from pefomed.data.synth_rad_render import Study

MODALITIES = ("ct", "mri", "x-ray")
ORGANS = ("chest", "brain", "abdomen")
PLANES = {"ct": ("axial", "coronal", "sagittal"), "mri": ("axial", "coronal", "sagittal"),
          "x-ray": ("pa", "ap", "lateral")}
ALL_PLANES = ("axial", "coronal", "sagittal", "pa", "ap", "lateral")
SIZES = ("small", "medium", "large")
SIDES = ("left", "right")
LEVELS = ("upper", "lower")
INTENSITY_WORDS = {"ct": {"hyper": "hyperdense", "hypo": "hypodense"},
                   "mri": {"hyper": "hyperintense", "hypo": "hypointense"},
                   "x-ray": {"hyper": "bright", "hypo": "dark"}}
NUMBER_WORDS = ("no", "one", "two", "three")
COUNT_ANSWERS = ("none", "one", "two", "three")  # VQA normalisation maps these to 0..3
QUESTION_TYPES = ("MODALITY", "ORGAN", "PLANE", "PRES", "POS", "COUNT", "SIZE", "ATTRIB", "ABN")
LESION_TYPES = ("POS", "SIZE", "ATTRIB")  # need at least one lesion
MODALITY_NAMES = {"ct": "CT", "mri": "MRI", "x-ray": "X-ray"}
ARTICLE = {"ct": "a CT", "mri": "an MRI", "x-ray": "an X-ray"}
PLANE_NAMES = {"axial": "axial", "coronal": "coronal", "sagittal": "sagittal", "pa": "PA", "ap": "AP",
               "lateral": "lateral"}


def pick(rng: np.random.Generator, options):
    """One of ``options``, uniformly."""
    return options[int(rng.integers(len(options)))]


def other(rng: np.random.Generator, options, truth):
    """One of ``options`` other than ``truth``, uniformly (the false value of a "no" question)."""
    return pick(rng, [o for o in options if o != truth])


def _lesion(s: Study) -> str:
    return "lesions" if s.count > 1 else "lesion"


def _the_lesion(s: Study) -> tuple[str, str]:
    return ("the lesions", "are") if s.count > 1 else ("the lesion", "is")


def closed_question(qtype: str, s: Study, rng: np.random.Generator) -> tuple[str, bool]:
    """A yes/no question of ``qtype`` and its answer (True for yes).

    Three-valued facts (modality, organ, plane, size, count) draw the answer first, so each is
    asked about as often when true as when false. Presence, abnormality and "how many" ask in
    one of two opposite directions, half each ("Is there a lesion?" / "Is the image free of
    lesions?"), and side, level and intensity about a uniformly drawn value, taking the answer
    from the image: every question type is answered yes about half the time, so no type can be
    answered from the question alone.
    """
    words = INTENSITY_WORDS[s.modality]
    the, be = _the_lesion(s)
    Be = be.capitalize()
    if qtype == "PRES":
        if rng.random() < .5:
            return pick(rng, ("Is the image free of lesions?", "Is this image free of lesions?")), s.count == 0
        return pick(rng, ("Is there a lesion?", "Are there any lesions?", "Is a lesion present?")), s.count > 0
    if qtype == "ABN":
        if rng.random() < .5:
            q = pick(rng, ("Is this image abnormal?", "Is there an abnormality?", "Is something abnormal here?"))
            return q, s.count > 0
        return pick(rng, ("Is this image normal?", "Is this a normal study?")), s.count == 0
    if qtype == "POS":
        if rng.random() < .5:
            side = "left" if rng.random() < .75 else "right"
            return pick(rng, (f"{Be} {the} on the {side}?", f"{Be} {the} on the {side} side?")), s.side == side
        level = "upper" if rng.random() < .75 else "lower"
        return pick(rng, (f"{Be} {the} in the {level} region?", f"{Be} {the} {level}?")), s.level == level
    if qtype == "ATTRIB":
        inten = "hyper" if rng.random() < .75 else "hypo"
        return f"{Be} {the} {words[inten]}?", s.intensity == inten
    yes = bool(rng.random() < .5)
    if qtype == "MODALITY":
        m = s.modality if yes else other(rng, MODALITIES, s.modality)
        return pick(rng, (f"Is this {ARTICLE[m]}?", f"Was this image taken with {MODALITY_NAMES[m]}?",
                          f"Is this image {ARTICLE[m]} scan?" if m != "x-ray" else "Is this an X-ray?")), yes
    if qtype == "ORGAN":
        o = s.organ if yes else other(rng, ORGANS, s.organ)
        return pick(rng, (f"Is this an image of the {o}?", f"Does this image show the {o}?", f"Is the {o} shown?")), yes
    if qtype == "PLANE":
        p = s.plane if yes else other(rng, PLANES[s.modality], s.plane)
        if p in ("pa", "ap"):
            return pick(rng, (f"Is this a {PLANE_NAMES[p]} view?", f"Was this image taken {PLANE_NAMES[p]}?")), yes
        return pick(rng, (f"Is this {'an' if p == 'axial' else 'a'} {p} image?", f"Is this image in the {p} plane?",
                          f"Is this a {p} view?")), yes
    if qtype == "COUNT":
        if rng.random() < .25:
            return "Is there more than one lesion?", s.count > 1
        if rng.random() < 1 / 3:
            return "Is there at most one lesion?", s.count <= 1
        k = s.count if yes else other(rng, (0, 1, 2, 3), s.count)
        if k == 1:
            return pick(rng, ("Is there exactly one lesion?", "Is there only one lesion?")), yes
        return f"Are there {NUMBER_WORDS[k]} lesions?", yes
    if qtype == "SIZE":
        size = s.size if yes else other(rng, SIZES, s.size)
        return pick(rng, (f"{Be} {the} {size}?", f"{Be} {the} {size} in size?")), yes
    raise ValueError(f"unknown question type {qtype!r}")


def open_question(qtype: str, s: Study, rng: np.random.Generator) -> tuple[str, str]:
    """An open question of ``qtype`` and its short answer."""
    words = INTENSITY_WORDS[s.modality]
    the, be = _the_lesion(s)
    if qtype == "MODALITY":
        q = pick(rng, ("What modality is this?", "What imaging modality was used?", "How was this image taken?"))
        return q, MODALITY_NAMES[s.modality]
    if qtype == "ORGAN":
        q = pick(rng, ("What organ is shown?", "Which part of the body is this?", "What body region is imaged?"))
        return q, s.organ
    if qtype == "PLANE":
        q = pick(rng, ("What plane is this image in?", "In which plane was this image taken?", "What view is this?"))
        return q, PLANE_NAMES[s.plane]
    if qtype == "PRES":
        q = pick(rng, ("What abnormality is seen?", "What lesion is present?"))
        return q, f"{words[s.intensity]} {_lesion(s)}" if s.count else "none"
    if qtype == "ABN":
        return pick(rng, ("Is this image normal or abnormal?", "Is this study normal or abnormal?")), (
            "abnormal" if s.count else "normal")
    if qtype == "COUNT":
        return pick(rng, ("How many lesions are there?", "How many lesions are seen?")), COUNT_ANSWERS[s.count]
    if qtype == "POS":
        q = pick(rng, (f"Where {be} {the}?", f"Where {be} {the} located?", f"In which region {be} {the}?"))
        return q, f"{s.side} {s.level}"
    if qtype == "SIZE":
        return pick(rng, (f"How large {be} {the}?", f"What size {be} {the}?")), s.size
    if qtype == "ATTRIB":
        q = pick(rng, (f"What is the intensity of {the}?",
                       f"{be.capitalize()} {the} {words['hyper']} or {words['hypo']}?"))
        return q, words[s.intensity]
    raise ValueError(f"unknown question type {qtype!r}")


def caption(s: Study, rng: np.random.Generator) -> str:
    """One report-style sentence stating every fact of the study (templates vary)."""
    mod, plane, organ = MODALITY_NAMES[s.modality], PLANE_NAMES[s.plane], s.organ
    view = f"{plane} view" if s.modality == "x-ray" else f"{plane} plane"
    head = pick(rng, (f"{plane} {mod} of the {organ}", f"{mod} of the {organ}, {view}",
                       f"{mod} {organ}, {plane}"))
    head = head[0].upper() + head[1:]
    if s.count == 0:
        tail = pick(rng, (". No focal lesion.", " showing no lesion; normal study.", ", normal, no lesions."))
        return head + tail
    n = NUMBER_WORDS[s.count]
    what = f"{n} {s.size} {INTENSITY_WORDS[s.modality][s.intensity]} {_lesion(s)}"
    where = pick(rng, (f"in the {s.side} {s.level} region", f"in the {s.level} {s.side} area",
                        f"on the {s.side}, {s.level}"))
    tail = pick(rng, (f" showing {what} {where}.", f": {what} {where}.", f" with {what} {where}; abnormal."))
    return head + tail


def vocabulary() -> tuple[str, ...]:
    """Every word the questions, answers and captions use (for tokenizers' ``extra_words``).

    Collected by running every template over studies covering all facts, so it follows the
    templates when they change.
    """
    import itertools
    import re

    words: set[str] = {"Report", "Question", "Answer", "yes", "no"}
    rng = np.random.default_rng(0)
    for m, o, count in itertools.product(MODALITIES, ORGANS, range(4)):
        for p, size, inten, side, level in itertools.product(PLANES[m], SIZES, ("hyper", "hypo"), SIDES, LEVELS):
            s = Study(m, o, p, count, size, inten, side, level) if count else Study(m, o, p)
            texts = [caption(s, rng) for _ in range(3)]
            for qtype in QUESTION_TYPES:
                if count or qtype not in LESION_TYPES:
                    texts += [closed_question(qtype, s, rng)[0] for _ in range(4)]
                    texts += list(open_question(qtype, s, rng))
            words.update(w for t in texts for w in re.findall(r"[A-Za-z][A-Za-z-]*", t))
            if not count:
                break
    return tuple(sorted(words))


SECTIONS = ("Technique", "Findings", "Impression")


def report_section(s: Study, section: str) -> str:
    """One section of a structured report: Technique (modality, plane, organ), Findings (the
    lesions) or Impression (normal / abnormal)."""
    if section == "Technique":
        technique = f"{PLANE_NAMES[s.plane]} {MODALITY_NAMES[s.modality]} of the {s.organ}."
        return technique[0].upper() + technique[1:]
    if section == "Findings":
        if s.count == 0:
            return "No focal lesion."
        what = f"{NUMBER_WORDS[s.count]} {s.size} {INTENSITY_WORDS[s.modality][s.intensity]} {_lesion(s)}"
        return f"{what.capitalize()} in the {s.side} {s.level} region."
    if section == "Impression":
        return "Abnormal." if s.count else "Normal."
    raise ValueError(f"unknown report section {section!r}; use one of {', '.join(SECTIONS)}")
