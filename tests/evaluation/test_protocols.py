import pytest

from pefomed.errors import PefomedError, UnknownNameError
from pefomed.evaluation import (DEFAULT_PROTOCOLS, FAMILIES, PROTOCOLS, get_protocol, list_protocols,
                                resolve_protocols)


def test_builtin_protocols_state_their_subset():
    expected = {"closed-lenient": "closed", "closed-exact": "closed", "open-exact": "open",
                "open-recall": "open", "overall-exact": "all", "token-f1": "all", "bleu-1": "all",
                "llava-med-closed": "closed"}
    assert {n: get_protocol(n).subset for n in DEFAULT_PROTOCOLS} == expected
    assert list_protocols()[:len(DEFAULT_PROTOCOLS)] == list(DEFAULT_PROTOCOLS)
    for name in list_protocols():
        desc = get_protocol(name).description
        assert desc.split(" ", 1)[0] in {"closed", "open", "all"}, desc  # says which questions


def test_protocol_applies_by_answer_type():
    closed, open_, all_ = (get_protocol(n) for n in ("closed-lenient", "open-recall", "overall-exact"))
    assert closed.applies("closed") and not closed.applies("open")
    assert open_.applies("open") and not open_.applies("closed")
    assert all_.applies("open") and all_.applies("closed")


def test_unknown_protocol_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'closed-lenient'"):
        get_protocol("closed-lenint")
    with pytest.raises(UnknownNameError) as err:
        resolve_protocols(["open-recal", "bleu1", "token-f1", "llava-mde"])
    msg = str(err.value)
    assert "'open-recal'" in msg and "'bleu1'" in msg and "'llava-med'" in msg and "\n" not in msg


def test_resolve_protocols_defaults_dedupes_and_rejects_empty():
    assert [p.name for p in resolve_protocols(None)] == list(DEFAULT_PROTOCOLS)
    assert [p.name for p in resolve_protocols(["bleu-1", "bleu-1"])] == ["bleu-1"]
    assert [p.name for p in resolve_protocols("token-f1")] == ["token-f1"]
    with pytest.raises(PefomedError, match="protocols is empty"):
        resolve_protocols([])


def test_family_names_expand_to_their_members_in_order():
    assert FAMILIES.names() == ["llava-med", "mevf", "pefomed-paper", "vqa"]
    names = [p.name for p in resolve_protocols(["llava-med-closed", "pefomed-paper", "vqa"])]
    assert names == ["llava-med-closed", "pefomed-paper-closed", "pefomed-paper-open",
                     "pefomed-paper-overall", "vqa-closed", "vqa-open", "vqa-overall"]
    llava = [p.name for p in resolve_protocols("llava-med")]
    assert llava[-2:] == ["llava-med-closed", "llava-med-closed-e9972cf"] and "llava-med-recall" in llava
    for fam in FAMILIES.names():
        f = FAMILIES.get(fam)
        assert "@" in f.source and ":" in f.source       # owner/repo@commit:path
        assert all(get_protocol(m).family == fam and get_protocol(m).label for m in f.members)


def test_own_protocols_do_not_claim_to_be_peers():
    assert not any(get_protocol(n).family for n in DEFAULT_PROTOCOLS if not n.startswith("llava-med"))
    assert "PeFoMed" not in get_protocol("closed-lenient").description.replace("not any paper", "")


def test_registry_is_the_shared_registry_type():
    assert "open-exact" in PROTOCOLS and len(PROTOCOLS) >= len(DEFAULT_PROTOCOLS)
