"""BottleneckConfig: AdapterHub's preset defaults, validation that reports every error, sizes."""
from __future__ import annotations

import pytest

from pefomed.adapters.bottleneck import BottleneckConfig
from pefomed.errors import PefomedError


def test_presets_match_adapterhub_defaults():
    houlsby, pfeiffer = BottleneckConfig("houlsby"), BottleneckConfig("pfeiffer")
    # DoubleSeqBnConfig / SeqBnConfig in adapters' adapter_config.py
    assert (houlsby.after_attention, houlsby.after_ffn, houlsby.non_linearity) == (True, True, "swish")
    assert (pfeiffer.after_attention, pfeiffer.after_ffn, pfeiffer.non_linearity) == (False, True, "relu")
    assert houlsby.reduction_factor == pfeiffer.reduction_factor == 16
    assert houlsby.dropout == pfeiffer.dropout == 0.0
    assert BottleneckConfig("houlsby", non_linearity="gelu").non_linearity == "gelu"


def test_every_error_reported_at_once_in_one_line():
    with pytest.raises(PefomedError) as err:
        BottleneckConfig(preset="hulsby", reduction_factor=0, non_linearity="rleu", init_scale=0.0, dropout=1.0)
    msg = str(err.value)
    assert "\n" not in msg
    for part in ("'hulsby'", "did you mean 'houlsby'", "reduction_factor", "got 0", "'rleu'",
                 "init_scale", "dropout", "got 1.0"):
        assert part in msg


@pytest.mark.parametrize("bad", [{"reduction_factor": 2.5}, {"reduction_factor": True},
                                 {"init_scale": float("inf")}, {"dropout": -0.1}, {"dropout": "0.1"}])
def test_rejects_bad_values(bad):
    with pytest.raises(PefomedError):
        BottleneckConfig(**bad)


def test_dict_round_trip_and_unknown_keys():
    config = BottleneckConfig("pfeiffer", reduction_factor=8, dropout=0.1)
    assert BottleneckConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["non_linearity"] == "relu"  # resolved, so the saved file is explicit
    with pytest.raises(PefomedError, match="unknown bottleneck setting.*'rank'"):
        BottleneckConfig.from_dict({"preset": "houlsby", "rank": 4})


def test_bottleneck_size_and_parameter_formula():
    config = BottleneckConfig(reduction_factor=16)
    assert config.bottleneck_size(64) == 4
    assert config.bottleneck_size(70) == 4   # floor, as AdapterHub's int(d // rf)
    assert config.bottleneck_size(8) == 1    # never below 1
    # down: 64*4 weights + 4 biases; up: 4*64 weights + 64 biases
    assert config.site_parameters(64) == 64 * 4 + 4 + 4 * 64 + 64 == 580
