"""The live display renders progress, the running trial and the front so far."""
from __future__ import annotations

import io

from rich.console import Console

from pefomed.sweep.live import LiveDisplay
from pefomed.sweep.records import RecordSet
from pefomed.sweep.space import TrialConfig
from tests.sweep.conftest import make_spec
from tests.sweep.records_fixture import rec


def test_live_display_shows_front_and_failures(tmp_path):
    out = io.StringIO()
    display = LiveDisplay(Console(file=out, width=140, force_terminal=False))
    spec = make_spec(tmp_path)
    display.start(spec, 6, RecordSet())
    display.progress({"finished": 2, "running": 1, "waiting": 0})
    display.trial_started(2, TrialConfig(method="lora", label="lora", settings={"r": 8}, lr=1e-3))
    trials = [rec(0, "lora", 0.7, 3.0, study="t"), rec(1, "ia3", 0.5, 1.0, study="t")]
    display.trial_finished(trials[1], trials)
    failed = rec(2, "lora", None, None, status="failed", reason="boom", study="t")
    display.trial_finished(failed, trials + [failed])
    display.stop()
    text = out.getvalue()
    assert "best-so-far Pareto front" in text and "2/6 finished" in text
    assert "FAILED (boom)" in text and "0.700" in text and "0.500" in text
