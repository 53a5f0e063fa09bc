"""Rendering of synth-rad studies: procedural X-ray, CT and MRI phantoms as grayscale arrays.

A :class:`Study` holds the visual facts (modality, organ, plane, lesions); :func:`render` turns
it into an image with whole-array numpy operations (about a millisecond for 64 px). Each
(organ, view) is a list of ellipses painted in order; modalities differ in how tissues map to
gray values and in texture:

- CT: slice, round body outline inside a circular field of view, scanner table under axial
  slices, windowed Gaussian noise, bright bone, black lungs;
- MRI: slice, bright fluid and fat, dark bone and lungs, smooth (blurred) with a bias field
  and Rician-like noise;
- X-ray: projection, body fills the frame with thickness shading, bright ribs and spine,
  blurred; PA and AP carry a side marker (left corner PA, right corner AP; AP also magnifies
  the heart), lateral none.

Positions ("left", "upper") are as seen on the image, not the patient's side.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# (tissue, cx, cy, rx, ry) in [-1, 1] coordinates, y pointing down; painted in order.
Shape = tuple[str, float, float, float, float]
PHANTOMS: dict[tuple[str, str], tuple[Shape, ...]] = {
    ("brain", "axial"): (
        ("fat", 0, 0, .74, .88), ("bone", 0, 0, .7, .84), ("brain", 0, 0, .62, .76),
        ("fluid", -.1, -.05, .07, .22), ("fluid", .1, -.05, .07, .22), ("fluid", 0, .3, .05, .05),
    ),
    ("brain", "coronal"): (
        ("soft", 0, .75, .22, .3), ("fat", 0, -.1, .76, .74), ("bone", 0, -.1, .72, .7),
        ("brain", 0, -.1, .64, .62), ("fluid", -.11, -.2, .08, .14), ("fluid", .11, -.2, .08, .14),
        ("brain", 0, .55, .14, .3),
    ),
    ("brain", "sagittal"): (
        ("soft", -.6, .45, .3, .35), ("fat", .05, -.15, .86, .7), ("bone", .05, -.15, .82, .66),
        ("brain", .05, -.15, .74, .58), ("organ", .45, .25, .25, .18), ("fluid", .0, -.15, .3, .07),
        ("brain", .15, .45, .1, .35),
    ),
    ("chest", "axial"): (
        ("fat", 0, 0, .92, .68), ("soft", 0, 0, .86, .62), ("lung", -.42, -.05, .34, .48),
        ("lung", .42, -.05, .34, .48), ("heart", .1, -.08, .28, .26), ("fluid", -.02, .2, .08, .08),
        ("bone", 0, .5, .11, .1), ("bone", 0, -.55, .1, .05),
    ),
    ("chest", "coronal"): (
        ("fat", 0, .05, .9, .98), ("soft", 0, .05, .85, .94), ("lung", -.4, -.15, .3, .58),
        ("lung", .4, -.15, .3, .58), ("heart", .1, .25, .3, .24), ("organ", -.3, .75, .45, .2),
        ("fluid", 0, -.3, .06, .35),
    ),
    ("chest", "sagittal"): (
        ("fat", 0, .05, .75, .98), ("soft", 0, .05, .7, .94), ("lung", .05, -.15, .48, .58),
        ("heart", -.25, .25, .3, .25), ("organ", 0, .8, .55, .2), ("bone", .62, 0, .07, .85),
    ),
    ("abdomen", "axial"): (
        ("fat", 0, 0, .92, .72), ("soft", 0, 0, .84, .64), ("organ", -.42, -.12, .38, .36),
        ("organ", .5, -.15, .16, .2), ("kidney", -.3, .3, .11, .14), ("kidney", .3, .3, .11, .14),
        ("fluid", 0, .18, .06, .06), ("bone", 0, .45, .12, .12),
    ),
    ("abdomen", "coronal"): (
        ("fat", 0, 0, .88, .98), ("soft", 0, 0, .82, .94), ("organ", -.38, -.45, .38, .3),
        ("organ", .45, -.5, .2, .2), ("kidney", -.35, .05, .12, .2), ("kidney", .35, .05, .12, .2),
        ("bone", 0, .1, .08, .75), ("bone", -.45, .8, .3, .12), ("bone", .45, .8, .3, .12),
        ("fluid", 0, .75, .14, .1),
    ),
    ("abdomen", "sagittal"): (
        ("fat", 0, 0, .78, .98), ("soft", 0, 0, .72, .94), ("organ", -.1, -.55, .45, .28),
        ("fluid", .3, 0, .12, .22), ("bone", .55, 0, .08, .9), ("fluid", -.35, .7, .15, .12),
    ),
}
# Gray value of each tissue on each slice modality (CT windowed, MRI T2-like) and X-ray.
VALUES: dict[str, dict[str, float]] = {
    "ct": {"soft": .45, "fat": .28, "bone": 1., "lung": .04, "fluid": .36, "organ": .58, "brain": .5,
           "heart": .54, "kidney": .5},
    "mri": {"soft": .35, "fat": .82, "bone": .1, "lung": .04, "fluid": .95, "organ": .42, "brain": .58,
            "heart": .22, "kidney": .5},
    "x-ray": {"soft": .42, "fat": .34, "bone": .95, "lung": .13, "fluid": .44, "organ": .48, "brain": .42,
              "heart": .55, "kidney": .45},
}
LESION_VALUES: dict[str, tuple[float, float, float, float]] = {  # (hyper, its dark rim, hypo, its bright rim)
    "ct": (.95, .12, .1, .7), "mri": (1., .1, .06, .7), "x-ray": (1., .1, .05, .7),
}
LESION_RADIUS: dict[str, float] = {"small": .08, "medium": .12, "large": .17}
QUADRANT_X: dict[str, float] = {"left": -.38, "right": .38}
QUADRANT_Y: dict[str, float] = {"upper": -.3, "lower": .3}
XRAY_VIEW: dict[str, str] = {"pa": "coronal", "ap": "coronal", "lateral": "sagittal"}


@dataclass(frozen=True)
class Study:
    """The visual facts of one synthetic image (what captions and questions talk about)."""

    modality: str  # "ct" | "mri" | "x-ray"
    organ: str  # "chest" | "brain" | "abdomen"
    plane: str  # "axial" | "coronal" | "sagittal" (CT, MRI); "pa" | "ap" | "lateral" (X-ray)
    count: int = 0  # lesions, 0..3; all lesions share size, intensity and region
    size: str = ""  # "small" | "medium" | "large"
    intensity: str = ""  # "hyper" | "hypo" (brighter or darker than the tissue)
    side: str = ""  # "left" | "right" (of the image)
    level: str = ""  # "upper" | "lower"


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size, dtype=np.float32) + .5) / size * 2 - 1
    return np.meshgrid(c, c)  # x varies along columns, y along rows


@lru_cache(maxsize=16)
def _blur_matrix(size: int, sigma_px: float) -> np.ndarray:
    i = np.arange(size, dtype=np.float32)
    g = np.exp(-.5 * ((i[:, None] - i[None, :]) / sigma_px) ** 2)
    return (g / g.sum(axis=1, keepdims=True)).astype(np.float32)


def _blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    g = _blur_matrix(img.shape[0], sigma_px)
    return g @ img @ g.T


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2


def lesion_centers(study: Study, jitter: np.ndarray) -> list[tuple[float, float, float]]:
    """(cx, cy, r) of each lesion: a cluster of ``count`` in the study's quadrant, never touching."""
    if study.count == 0:
        return []
    r = LESION_RADIUS[study.size]
    d = 1.3 * r
    offsets = {1: [(0., 0.)], 2: [(-d, 0.), (d, 0.)], 3: [(-d, .6 * d), (d, .6 * d), (0., -1.1 * d)]}
    qx = QUADRANT_X[study.side] + .05 * float(jitter[0])
    qy = QUADRANT_Y[study.level] + .05 * float(jitter[1])
    return [(qx + ox, qy + oy, r) for ox, oy in offsets[study.count]]


def render(study: Study, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """The study as a float32 (size, size) array in [0, 1]."""
    x, y = _grid(size)
    xray = study.modality == "x-ray"
    view = XRAY_VIEW[study.plane] if xray else study.plane
    scale = float(rng.uniform(.92, 1.04)) * (1.22 if xray else 1.)
    dx, dy = rng.uniform(-.04, .04, size=2)
    values = VALUES[study.modality]
    img = np.zeros((size, size), np.float32)
    for tissue, cx, cy, rx, ry in PHANTOMS[(study.organ, view)]:
        if xray and study.plane == "ap" and tissue == "heart":
            rx *= 1.3
        q = _ellipse(x, y, cx * scale + dx, cy * scale + dy, rx * scale, ry * scale)
        img[q <= 1] = values[tissue]
    if xray:
        img = _xray_projection(img, study, x, y, scale, dx, dy)
    img = _draw_lesions(img, study, x, y, rng.uniform(-1, 1, size=2))
    img = _texture(img, study, x, y, rng)
    gain, offset = rng.uniform(.92, 1.08), rng.uniform(-.03, .03)
    return np.clip(img * gain + offset, 0, 1).astype(np.float32)


def _xray_projection(img: np.ndarray, study: Study, x, y, scale, dx, dy) -> np.ndarray:
    body = PHANTOMS[(study.organ, XRAY_VIEW[study.plane])][0]
    q = _ellipse(x, y, body[1] * scale + dx, body[2] * scale + dy, body[3] * scale, body[4] * scale)
    img = img * (.55 + .45 * np.sqrt(np.clip(1 - q, 0, 1)))
    if study.organ == "chest" and study.plane != "lateral":
        # ribs: gently curved bright bands over the lungs, plus the spine
        for k in range(6):
            y0 = (-.75 + .26 * k) * scale + dy
            band = np.abs(y - y0 - .25 * (x - dx) ** 2) < .035 * scale
            img[band & (np.abs(x - dx) < .8 * scale)] += .22
        img[np.abs(x - dx) < .07 * scale] += .25
    if study.plane in ("pa", "ap"):
        s = x.shape[0]
        m = max(2, s // 16)
        cols = slice(1, 1 + m) if study.plane == "pa" else slice(s - 1 - m, s - 1)
        img[1:1 + m, cols] = 1.
    return img


def _draw_lesions(img: np.ndarray, study: Study, x, y, jitter: np.ndarray) -> np.ndarray:
    hyper, hyper_rim, hypo, hypo_rim = LESION_VALUES[study.modality]
    core, rim = (hyper, hyper_rim) if study.intensity == "hyper" else (hypo, hypo_rim)
    for cx, cy, r in lesion_centers(study, jitter):
        q = _ellipse(x, y, cx, cy, r, r)
        img[(q > 1) & (q <= 1.6)] = rim  # a rim of opposite contrast: lesions never look like anatomy
        img[q <= 1] = core
    return img


def _texture(img: np.ndarray, study: Study, x, y, rng: np.random.Generator) -> np.ndarray:
    size = img.shape[0]
    if study.modality == "ct":
        img = _blur(img, .5) + rng.normal(0, .045, img.shape).astype(np.float32)
        if study.plane == "axial":
            table = np.abs(y - .9) < .025
            img[table & (np.abs(x) < .85)] = .62
        img[x ** 2 + y ** 2 > .98] = 0.
    elif study.modality == "mri":
        img = _blur(img, 1.1 * size / 64)
        a, b = rng.uniform(-.15, .15, size=2)
        img = img * (1 + a * x + b * y)
        n1, n2 = rng.normal(0, .025, (2, *img.shape)).astype(np.float32)
        img = np.sqrt((img + n1) ** 2 + n2 ** 2)
    else:
        img = _blur(img, .9 * size / 64) + rng.normal(0, .015, img.shape).astype(np.float32)
    return img
