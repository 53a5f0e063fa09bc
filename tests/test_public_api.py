"""The lazy top-level API: every advertised name resolves to the object, not a submodule."""
from __future__ import annotations

import types

import pytest

import pefomed
import pefomed.train  # noqa: F401  (importing subpackages must not shadow advertised names)


@pytest.mark.parametrize("name", pefomed.__all__)
def test_advertised_names_resolve(name):
    value = getattr(pefomed, name)
    assert not isinstance(value, types.ModuleType) or name == "__version__"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        pefomed.no_such_thing  # noqa: B018
