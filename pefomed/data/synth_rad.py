"""synth-rad: a procedurally generated, radiology-like Med-VQA dataset (offline, seconds to build).

Every image is a :class:`~pefomed.data.synth_rad_render.Study` (modality CT / MRI / X-ray, organ
chest / brain / abdomen, plane axial / coronal / sagittal or PA / AP / lateral, 0-3 lesions of
one size, intensity and region) rendered as grayscale-as-RGB, with three questions of VQA-RAD's
types (MODALITY, ORGAN, PLANE, PRES, POS, COUNT, SIZE, ATTRIB, ABN; ~55% closed, yes/no
balanced) and one report-style caption stating the same facts.

Determinism: image ``i`` of a split depends only on ``(seed, split, i)``, through its own numpy
seed streams, so ``n`` only truncates (``records(n=10) == records(n=30)[:10]``) and the splits
are disjoint by construction. Default sizes: train 2000 images (6000 questions), validation 200
(600), test 200 (600); the 6000 train questions take about 0.7 s on one CPU core. "left" and
"right" are the sides of the image. The three records of an image share one PIL image.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from pefomed.data import synth_rad_text as text
from pefomed.data.record import VQARecord
from pefomed.data.synth_rad_render import Study, render
from pefomed.errors import PefomedError

SPLITS: dict[str, int] = {"train": 0, "validation": 1, "test": 2}
DEFAULT_IMAGES: dict[str, int] = {"train": 2000, "validation": 200, "test": 200}
QUESTIONS_PER_IMAGE = 3
CLOSED_FRACTION = .55
LESION_COUNT_P = (.4, .3, .15, .15)
_STREAM_FACTS, _STREAM_PIXELS, _STREAM_QUESTIONS, _STREAM_CAPTION = range(4)


def synth_rad_records(split: str, n: int | None = None, seed: int = 0, image_size: int = 64) -> list[VQARecord]:
    """``n`` questions (default: 3 per default image count) of a split, with in-memory images.

    Ids look like ``synth-rad/test/000123/q2``; ``extra`` holds the study's facts.
    """
    sid = _check(split, n, seed, image_size)
    n = QUESTIONS_PER_IMAGE * DEFAULT_IMAGES[split] if n is None else n
    records: list[VQARecord] = []
    for i in range(math.ceil(n / QUESTIONS_PER_IMAGE)):
        study = sample_study(_rng(seed, sid, i, _STREAM_FACTS))
        image = _image(study, seed, sid, i, image_size)
        image_id = f"synth-rad/{split}/{i:06d}"
        questions = questions_for(study, _rng(seed, sid, i, _STREAM_QUESTIONS))
        for j, (qtype, question, answer, kind) in enumerate(questions):
            records.append(VQARecord(
                id=f"{image_id}/q{j}", question=question, answer=answer, answer_type=kind, image=image,
                image_id=image_id, question_type=qtype, organ=study.organ, modality=study.modality,
                extra={"plane": study.plane, "count": study.count, "size": study.size,
                       "intensity": study.intensity, "side": study.side, "level": study.level},
            ))
    return records[:n]


def synth_rad_captions(split: str, n: int, seed: int = 0, image_size: int = 64, *,
                       start: int = 0) -> list[tuple[Image.Image, str]]:
    """``n`` (image, report-style caption) pairs for images ``start .. start+n-1``; image ``i`` is
    also the image of ``synth_rad_records``' questions ``3i .. 3i+2``."""
    sid = _check(split, n, seed, image_size)
    out = []
    for i in range(start, start + n):
        study = sample_study(_rng(seed, sid, i, _STREAM_FACTS))
        caption = text.caption(study, _rng(seed, sid, i, _STREAM_CAPTION))
        out.append((_image(study, seed, sid, i, image_size), caption))
    return out


def synth_rad_study(split: str, index: int, seed: int = 0) -> Study:
    """The facts behind image ``index`` of a split (what its caption and questions state)."""
    return sample_study(_rng(seed, _check(split, index, seed, 64), index, _STREAM_FACTS))


def sample_study(rng: np.random.Generator) -> Study:
    """Draw the facts of one image."""
    modality = text.pick(rng, text.MODALITIES)
    organ = text.pick(rng, text.ORGANS)
    plane = text.pick(rng, text.PLANES[modality])
    count = int(rng.choice(4, p=LESION_COUNT_P))
    if count == 0:
        return Study(modality, organ, plane)
    return Study(modality, organ, plane, count, text.pick(rng, text.SIZES), text.pick(rng, ("hyper", "hypo")),
                 text.pick(rng, text.SIDES), text.pick(rng, text.LEVELS))


def questions_for(study: Study, rng: np.random.Generator) -> list[tuple[str, str, str, str]]:
    """Three (question_type, question, answer, "closed"|"open") of distinct types for a study."""
    types = [t for t in text.QUESTION_TYPES if study.count or t not in text.LESION_TYPES]
    chosen = rng.choice(len(types), size=QUESTIONS_PER_IMAGE, replace=False)
    out = []
    for k in sorted(chosen.tolist()):
        qtype = types[k]
        if rng.random() < CLOSED_FRACTION:
            question, yes = text.closed_question(qtype, study, rng)
            out.append((qtype, question, "yes" if yes else "no", "closed"))
        else:
            question, answer = text.open_question(qtype, study, rng)
            out.append((qtype, question, answer, "open"))
    return out


def _image(study: Study, seed: int, sid: int, i: int, size: int) -> Image.Image:
    pixels = render(study, _rng(seed, sid, i, _STREAM_PIXELS), size)
    return Image.fromarray((pixels * 255 + .5).astype(np.uint8)).convert("RGB")


def _rng(seed: int, sid: int, i: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, sid, i, stream])


def _check(split: str, n: int | None, seed: int, image_size: int) -> int:
    errors = []
    if split not in SPLITS:
        errors.append(f"split must be one of {', '.join(SPLITS)}, but got {split!r}")
    if seed < 0:
        errors.append(f"seed >= 0 must hold, but got seed={seed}")
    if n is not None and n < 0:
        errors.append(f"n >= 0 must hold, but got n={n}")
    if not 64 <= image_size <= 128:
        errors.append(f"64 <= image_size <= 128 must hold, but got image_size={image_size}")
    if errors:
        raise PefomedError(f"synth-rad: {'; '.join(errors)} "
                           "(fix the arguments of synth_rad_records/synth_rad_captions)")
    return SPLITS[split]
