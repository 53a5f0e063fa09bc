"""Setting rules: the message states the rule and the value."""
from __future__ import annotations

import pytest

from pefomed.adapters.params import Param, check_settings


@pytest.mark.parametrize(("param", "value", "message"), [
    (Param("int", low=1), 0, "r >= 1 must hold, but got r=0"),
    (Param("int", low=1), 2.5, "r must be a whole number, but got r=2.5"),
    (Param("int", low=1), True, "r must be a whole number, but got r=True"),
    (Param("float", low=0, high=1, high_open=True), 1.0, "0 <= r < 1 must hold, but got r=1"),
    (Param("float", low=0, low_open=True), 0, "r > 0 must hold, but got r=0"),
    (Param("float", low=0, low_open=True), "abc", "r must be a number, but got r='abc'"),
    (Param("str", choices=("a", "b")), "c", "r in ('a', 'b') must hold, but got r='c'"),
    (Param("bool"), "yes", "r must be a boolean (true/false), but got r='yes'"),
    (Param("str_list"), [1], "r must be a list of strings, but got r=[1]"),
    (Param("int"), None, "r must be set (a int), but got None"),
])
def test_rule_messages(param: Param, value, message: str) -> None:
    assert param.coerce("r", value)[1] == message


@pytest.mark.parametrize(("param", "value", "typed"), [
    (Param("int", low=1), 4.0, 4),
    (Param("float"), 3, 3.0),
    (Param("float"), "2e-4", 2e-4),
    (Param("str_list"), "model.vision_tower", ["model.vision_tower"]),
    (Param("int", nullable=True), None, None),
])
def test_values_are_coerced(param: Param, value, typed) -> None:
    assert param.coerce("x", value) == (typed, None)


def test_check_settings_lists_every_problem() -> None:
    params = {"r": Param("int", low=1), "alpha": Param("float")}
    values, errors = check_settings(params, {"r": 0, "alpa": 1, "alpha": 2}, "lora")
    assert values == {"r": 0, "alpha": 2.0}
    assert errors[0] == "r >= 1 must hold, but got r=0"
    assert errors[1].startswith("unknown lora setting 'alpa'; did you mean 'alpha'?")
