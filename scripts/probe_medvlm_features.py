"""Does medvlm-tiny's frozen image path hold the facts synth-rad's closed questions ask about?

A logistic-regression probe on the projector's output (what the language model sees) per fact,
trained on synth-rad train images and scored on test images, beside the majority class:

    python scripts/probe_medvlm_features.py [--train 1500 --test 300] [--weights DIR]

Side, level, size and intensity are probed on images that have a lesion (they are undefined
without one).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

FACTS = {
    "presence": lambda s: s.count > 0, "count": lambda s: s.count, "side": lambda s: s.side,
    "level": lambda s: s.level, "size": lambda s: s.size, "intensity": lambda s: s.intensity,
    "modality": lambda s: s.modality, "plane": lambda s: s.plane, "organ": lambda s: s.organ,
}
NEED_LESION = ("side", "level", "size", "intensity")


def features(bundle, split: str, n: int) -> tuple[np.ndarray, list]:
    from pefomed.data.synth_rad import synth_rad_captions, synth_rad_study

    model = bundle.model.eval()
    images = [pair[0] for pair in synth_rad_captions(split, n)]
    rows = []
    for k in range(0, n, 50):
        pixels = bundle.processor.image_processor(images[k:k + 50], return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            hidden = model.model.vision_tower(pixels).last_hidden_state[:, 1:]
            rows.append(model.model.multi_modal_projector(hidden).flatten(1).numpy())
    return np.concatenate(rows), [synth_rad_study(split, i) for i in range(n)]


def main() -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from pefomed.models.registry import create_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=1500)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--weights", help="a medvlm-tiny folder (default: the shipped weights)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # 300 iterations are plenty for a probe
    bundle = create_model(args.weights) if args.weights else create_model("medvlm-tiny")
    x_train, s_train = features(bundle, "train", args.train)
    x_test, s_test = features(bundle, "test", args.test)
    print(f"{'fact':10s} {'probe':>6s} {'majority':>9s}  (test images)")
    for fact, value in FACTS.items():
        keep_train = [i for i, s in enumerate(s_train) if fact not in NEED_LESION or s.count]
        keep_test = [i for i, s in enumerate(s_test) if fact not in NEED_LESION or s.count]
        y_train = [value(s_train[i]) for i in keep_train]
        y_test = [value(s_test[i]) for i in keep_test]
        probe = LogisticRegression(max_iter=300, C=0.1).fit(x_train[keep_train], y_train)
        majority = max(y_test.count(v) for v in set(y_test)) / len(y_test)
        print(f"{fact:10s} {probe.score(x_test[keep_test], y_test):6.3f} {majority:9.3f}  (n={len(y_test)})")


if __name__ == "__main__":
    main()
