"""An --out that cannot be written is refused before training starts (no work lost)."""
from __future__ import annotations

import os
import time

from .conftest import QUICK, TINY, assert_refused, cli


def _train(out, *extra):
    t0 = time.perf_counter()
    result = cli("train", *TINY, "--adapter", "lora", *QUICK, *extra, "--out", out)
    return result, time.perf_counter() - t0


def test_out_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result, _ = _train(blocker / "run")
    assert_refused(result, str(blocker), "--out")
    assert blocker.read_text() == "x"


def test_out_on_a_read_only_filesystem_is_refused_before_training(tmp_path, monkeypatch):
    # a read-only mount (or a permission root cannot bypass) looks the same to os.access
    real = os.access
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(os, "access",
                        lambda p, mode, **kw: False if str(p).startswith(str(ro)) else real(p, mode, **kw))
    import pefomed.train.loop as loop

    trained = []
    def no_training(*args, **kwargs):
        trained.append(1)
        raise AssertionError("training started although --out cannot be written")

    monkeypatch.setattr(loop, "StepRunner", no_training)
    result, _ = _train(ro / "deep" / "run")
    assert_refused(result, str(ro), "writ")
    assert not trained and not (ro / "deep").exists()
