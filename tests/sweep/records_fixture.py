"""Hand-built sweep records (no model involved) for the Pareto and report tests."""
from __future__ import annotations


def rec(trial: int, label: str, acc: float | None, cost: float | None, status: str = "complete",
        study: str = "s", reason: str | None = None, lr: float = 1e-3) -> dict:
    metrics = {} if acc is None else {
        "closed-lenient": {"value": acc, "ci95": [max(0.0, acc - 0.1), min(1.0, acc + 0.1)], "n": 50},
        "open-exact": {"value": acc / 2, "ci95": None, "n": 40}}
    return {"schema": 1, "kind": "trial", "study": study, "trial": trial, "status": status, "reason": reason,
            "method": label, "label": label, "config": {"settings": {"r": 8}, "lr": lr},
            "objectives": {"accuracy": {"protocol": "closed-lenient", "value": acc if status == "complete" else None},
                           "cost": {"name": "device_seconds", "value": cost if status == "complete" else None}},
            "metrics": metrics, "cost": {"device_seconds": cost, "trainable_params": 10 * trial},
            "model": "tiny-llava", "dataset": {"name": "synth-rad"}, "run_dir": f"/runs/{trial}"}


def final(trial: int, acc: float, study: str = "s") -> dict:
    return {"schema": 1, "kind": "final", "study": study, "trial": trial, "status": "complete", "split": "test",
            "objectives": {"accuracy": {"protocol": "closed-lenient", "value": acc}},
            "metrics": {"closed-lenient": {"value": acc, "ci95": [acc - 0.05, acc + 0.05], "n": 100}}}


#: trial: (label, accuracy, cost). Front: 0 (0.3 @ 0), 2 and 5 tie (0.6 @ 2), 4 (0.8 @ 5).
#: 1 is dominated by 2 (same cost, lower acc), 3 by 4, 6 duplicates nothing but is beaten by 2.
POINTS = {0: ("frozen", 0.3, 0.0), 1: ("ia3", 0.5, 2.0), 2: ("lora", 0.6, 2.0), 3: ("dora", 0.7, 6.0),
          4: ("full", 0.8, 5.0), 5: ("loha", 0.6, 2.0), 6: ("vera", 0.55, 3.0)}


def sample_records() -> list[dict]:
    out = [rec(t, *v) for t, v in POINTS.items()]
    out.append(rec(7, "lora", None, None, status="failed", reason="memory cap exceeded: peak 900 MB > 1"))
    out.append(rec(8, "ia3", None, None, status="interrupted", reason="worker died: gone"))
    return out
