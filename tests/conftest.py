"""Test-wide settings: offline, seeded, quiet; one place that finds the real data."""
from __future__ import annotations

import os
import random

# Nothing in the test suite may reach a model hub: fail fast instead of hanging on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest-xdist already runs one worker per core; subprocesses (sweep workers, CLI runs) must not
# each start a full OpenMP pool on top, or 2 cores thrash (measured: a 7 s trial took minutes).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from pefomed.settings import DATA_ENV, data_root  # noqa: E402

torch.set_num_threads(1)  # xdist runs one worker per core


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def vqa_rad_root():
    """The real VQA-RAD copy. Missing data fails in CI (or when PEFOMED_DATA is set); skips loudly elsewhere."""
    root = data_root() / "vqa_rad"
    if not (root / "testset.json").is_file():
        msg = f"VQA-RAD not found at {root} (set {DATA_ENV} to the folder holding vqa_rad/)"
        if os.environ.get("CI") or os.environ.get(DATA_ENV):
            pytest.fail(msg)
        pytest.skip(msg)
    return root
