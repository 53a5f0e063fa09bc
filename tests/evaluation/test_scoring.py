import json
import math

import numpy as np
import pytest

from pefomed.errors import PefomedError
from pefomed.evaluation import EvalResult, Prediction, bootstrap_ci, score

# (id, reference, type, organ, prediction)
ITEMS = [
    ("c1", "yes", "closed", "chest", "Yes, there is"),
    ("c2", "no", "closed", "chest", "no"),
    ("c3", "yes", "closed", "head", "no"),
    ("c4", "left", "closed", "", "left"),
    ("o1", "left lung", "open", "chest", "the left lung"),
    ("o2", "upper lobe of the left lung", "open", "chest", "left upper lobe"),
    ("o3", "liver", "open", "abdomen", "kidney"),
]


@pytest.fixture
def case(rec):
    records = [rec(i, ref, t, organ=organ) for i, ref, t, organ, _ in ITEMS]
    return records, [p for *_, p in ITEMS]


def test_protocol_values_hand_computed(case):
    records, answers = case
    m = score(records, answers, bootstrap=0).metrics
    # closed: c1 leading yes, c2, c4 exact; c3 wrong -> 3/4
    # majority closed reference: "yes" (2 of 4; ties alphabetical); "yes" everywhere scores c1, c3 -> 1/2
    assert m["closed-lenient"] == {"value": 0.75, "ci95": None, "n": 4, "total": 3.0,
                                   "majority": {"answer": "yes", "value": 0.5}}
    # LLaVA-Med closed: c1 and c2 contain yes/no and the reference; c4 has no yes/no -> 2/4
    assert m["llava-med-closed"]["value"] == 0.5
    assert "majority" not in m["open-exact"] and m["open-exact"]["total"] == 1.0
    # open exact: only o1 -> 1/3; open recall: (1 + 3/5 + 0) / 3
    assert (m["open-exact"]["value"], m["open-exact"]["n"]) == (pytest.approx(1 / 3), 3)
    assert m["open-recall"]["value"] == pytest.approx((1 + 0.6 + 0) / 3)
    # overall exact: c2, c4, o1 -> 3/7
    assert (m["overall-exact"]["value"], m["overall-exact"]["n"]) == (pytest.approx(3 / 7), 7)
    # token F1: c1 P=1/3 R=1 -> 0.5; c2 1; c3 0; c4 1; o1 1; o2 0.75; o3 0 -> 4.25 / 7
    assert m["token-f1"]["value"] == pytest.approx(4.25 / 7)
    # BLEU-1: c1 1/3 (BP 1); c2, c4, o1 1; o2 precision 1, BP exp(1 - 5/3); c3, o3 0
    assert m["bleu-1"]["value"] == pytest.approx((1 / 3 + 3 + math.exp(-2 / 3)) / 7)


def test_prediction_objects_are_matched_by_id_not_order(case):
    records, answers = case
    preds = [Prediction.for_record(r, a) for r, a in zip(records, answers)][::-1]
    assert score(records, preds, bootstrap=0).to_dict() == score(records, answers, bootstrap=0).to_dict()


def test_mismatched_predictions_are_refused(case, rec):
    records, answers = case
    with pytest.raises(PefomedError, match="7 records"):
        score(records, answers[:-1])
    preds = [Prediction.for_record(r, a) for r, a in zip(records, answers)]
    with pytest.raises(PefomedError, match="1 records lack one"):
        score(records, preds[1:])
    with pytest.raises(PefomedError, match="unique"):
        score(records + [records[0]], answers + ["yes"])
    with pytest.raises(PefomedError, match="not a mix"):
        score(records, preds[:3] + answers[3:])


def test_breakdown_counts_and_values(case):
    records, answers = case
    res = score(records, answers, bootstrap=0)
    assert set(res.breakdown) == {"answer_type", "organ"}  # question_type/modality all empty
    organ = res.breakdown["organ"]
    assert {k: v["n"] for k, v in organ.items()} == {"chest": 4, "head": 1, "abdomen": 1, "(unspecified)": 1}
    chest = organ["chest"]["metrics"]
    assert chest["closed-lenient"] == {"value": 1.0, "n": 2}       # c1, c2
    assert chest["open-exact"] == {"value": 0.5, "n": 2}            # o1 right, o2 wrong
    assert organ["head"]["metrics"]["open-exact"] == {"value": None, "n": 0}
    by_type = res.breakdown["answer_type"]
    assert {k: v["n"] for k, v in by_type.items()} == {"closed": 4, "open": 3}
    assert by_type["closed"]["metrics"]["overall-exact"]["value"] == pytest.approx(2 / 4)


def test_empty_subset_gives_none_not_a_crash(rec):
    records = [rec("a", "yes"), rec("b", "no")]
    res = score(records, ["yes", "yes"], bootstrap=200)
    assert res.metrics["open-exact"] == {"value": None, "ci95": None, "n": 0, "total": 0.0}
    assert res.metrics["closed-lenient"]["n"] == 2
    json.dumps(res.to_dict(), allow_nan=False)  # JSON-safe
    empty = score([], [], bootstrap=100)
    assert empty.n == 0 and all(m["value"] is None for m in empty.metrics.values())
    assert empty.breakdown == {}


def _binary_records(rec, n, rng):
    truth = rng.random(n) < 0.5
    return [rec(f"q{i}", "yes") for i in range(n)], ["yes" if t else "no" for t in truth]


def test_bootstrap_is_seeded_and_brackets_the_estimate(rec):
    records, answers = _binary_records(rec, 400, np.random.default_rng(1))
    a = score(records, answers, protocols=["closed-lenient"], bootstrap=1000, seed=3).metrics["closed-lenient"]
    b = score(records, answers, protocols=["closed-lenient"], bootstrap=1000, seed=3).metrics["closed-lenient"]
    c = score(records, answers, protocols=["closed-lenient"], bootstrap=1000, seed=4).metrics["closed-lenient"]
    assert a == b and a["ci95"] != c["ci95"]
    lo, hi = a["ci95"]
    assert lo <= a["value"] <= hi
    # binomial standard error at p ~ 0.5, n = 400: sqrt(0.25 / 400) = 0.025 -> 95% width ~ 0.098
    assert 0.08 < hi - lo < 0.12


def test_interval_of_a_protocol_does_not_depend_on_the_others(case):
    records, answers = case
    alone = score(records, answers, protocols=["open-recall"], seed=7).metrics["open-recall"]
    together = score(records, answers, seed=7).metrics["open-recall"]
    assert alone == together


def test_all_equal_scores_give_a_degenerate_interval_at_the_value(rec):
    records = [rec(f"q{i}", "left lung", "open") for i in range(30)]
    m = score(records, ["left"] * 30, protocols=["open-recall"]).metrics["open-recall"]
    assert m["value"] == 0.5 and m["ci95"] == [0.5, 0.5]


def test_bootstrap_ci_is_vectorised_over_large_sets():
    rng = np.random.default_rng(0)
    scores = (rng.random(3000) < 0.7).astype(float)
    lo, hi = bootstrap_ci(scores, resamples=1000, rng=np.random.default_rng(0))
    assert lo < scores.mean() < hi and hi - lo < 0.05


def test_bad_bootstrap_settings_reported_together(case):
    records, answers = case
    with pytest.raises(PefomedError, match="bootstrap must be .* seed must be"):
        score(records, answers, bootstrap=-1, seed=-2)


def test_result_round_trips_through_dict(case):
    records, answers = case
    res = score(records, answers, bootstrap=50)
    again = EvalResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again.to_dict() == res.to_dict()
    assert again.value("closed-lenient") == 0.75
    with pytest.raises(PefomedError, match="not scored"):
        again.value("nope")
    with pytest.raises(PefomedError, match="missing 'metrics'"):
        EvalResult.from_dict({"n": 1, "breakdown": {}})
    with pytest.raises(PefomedError, match="'metrics' must be an object"):
        EvalResult.from_dict({"n": 1, "metrics": [], "breakdown": {}})
