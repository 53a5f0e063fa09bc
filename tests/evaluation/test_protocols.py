import pytest

from pefomed.errors import PefomedError, UnknownNameError
from pefomed.evaluation import DEFAULT_PROTOCOLS, PROTOCOLS, get_protocol, list_protocols, resolve_protocols


def test_builtin_protocols_state_their_subset():
    expected = {"closed-accuracy": "closed", "open-exact": "open", "open-recall": "open",
                "overall-exact": "all", "token-f1": "all", "bleu-1": "all", "llava-med-closed": "closed"}
    assert {n: get_protocol(n).subset for n in DEFAULT_PROTOCOLS} == expected
    assert list_protocols()[:len(DEFAULT_PROTOCOLS)] == list(DEFAULT_PROTOCOLS)
    for name in DEFAULT_PROTOCOLS:
        desc = get_protocol(name).description
        assert desc.split(" ", 1)[0] in {"closed", "open", "all"}, desc  # says which questions


def test_protocol_applies_by_answer_type():
    closed, open_, all_ = (get_protocol(n) for n in ("closed-accuracy", "open-recall", "overall-exact"))
    assert closed.applies("closed") and not closed.applies("open")
    assert open_.applies("open") and not open_.applies("closed")
    assert all_.applies("open") and all_.applies("closed")


def test_unknown_protocol_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'closed-accuracy'"):
        get_protocol("closed-acuracy")
    with pytest.raises(UnknownNameError) as err:
        resolve_protocols(["open-recal", "bleu1", "token-f1"])
    msg = str(err.value)
    assert "'open-recal'" in msg and "'bleu1'" in msg and "\n" not in msg  # every bad name, one line


def test_resolve_protocols_defaults_dedupes_and_rejects_empty():
    assert [p.name for p in resolve_protocols(None)] == list(DEFAULT_PROTOCOLS)
    assert [p.name for p in resolve_protocols(["bleu-1", "bleu-1"])] == ["bleu-1"]
    assert [p.name for p in resolve_protocols("token-f1")] == ["token-f1"]
    with pytest.raises(PefomedError, match="protocols is empty"):
        resolve_protocols([])


def test_registry_is_the_shared_registry_type():
    assert "open-exact" in PROTOCOLS and len(PROTOCOLS) >= len(DEFAULT_PROTOCOLS)
