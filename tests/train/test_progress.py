"""Progress output: plain lines in a log, a bar in a terminal that leaves a summary line."""
from __future__ import annotations

import io

from pefomed.train.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(stream, every: float) -> str:
    bar = Progress(3, True, every=every, stream=stream)
    for step in (1, 2, 3):
        bar.update(step, 2, 1.0 / step, f"{3 - step} steps")
    bar.note("eval step 3: closed-lenient 0.5000")
    bar.close("max_steps")
    return stream.getvalue()


def test_a_log_gets_a_plain_line_every_n_seconds_and_at_the_end():
    lines = _drive(io.StringIO(), every=0.0).splitlines()
    assert [line.split()[2] for line in lines if line.startswith("train step")] == ["1/3", "2/3", "3/3", "3/3"]
    assert lines[-1].endswith("stop: max_steps") and "loss 0.3333" in lines[-1] and "left: 0 steps" in lines[-1]
    assert "eval step 3: closed-lenient 0.5000" in lines


def test_a_slow_interval_prints_only_the_final_line():
    lines = _drive(io.StringIO(), every=3600.0).splitlines()
    assert [line for line in lines if line.startswith("train step")] == [lines[-1]]


def test_in_a_terminal_the_bar_ends_with_a_summary_line_that_stays():
    text = _drive(_Terminal(), every=0.0)
    last = text.rstrip().splitlines()[-1]
    assert "train step 3/3" in last and "stop: max_steps" in last, text
    assert "eval step 3" in text


def test_disabled_progress_prints_nothing():
    stream = io.StringIO()
    bar = Progress(3, False, stream=stream)
    bar.update(1, 2, 0.5, "2 steps")
    bar.note("x")
    bar.close("max_steps")
    assert stream.getvalue() == ""
