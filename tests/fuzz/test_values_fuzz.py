"""Fuzzing stored registry values and config payloads: a value or an O2Error with a message."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crds.configpayload import FORMATS, parse_payload
from crds.errors import ConfigError, UnreadableObjectError
from crds.kinds.environment import Environment
from store import codec
from tests.fuzz.harness import bounded, fuzz

pytestmark = pytest.mark.fuzz

KEY = "/o2/registry/environments/physics-1"
VALID = {
    "apiVersion": "o2/v1alpha1",
    "kind": "Environment",
    "metadata": {"name": "physics-1"},
    "spec": {"workflow": "readout-dataflow"},
}
leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
@fuzz(150)
@example(raw=b"[" * 100_000)
@example(raw=b"\xff\xfe")
@example(raw=json.dumps({**VALID, "metadata": {"name": "other"}}).encode())
def test_stored_values_decode_or_are_unreadable(raw: bytes) -> None:
    result, error = bounded(lambda: codec.decode(Environment, raw, key=KEY, mod_revision=5))
    if error is not None:
        assert isinstance(error, UnreadableObjectError), f"{type(error).__name__}: {error}"
        assert KEY in str(error)
    else:
        assert result is not None and result.metadata.resource_version == 5


@given(st.sampled_from([*sorted(VALID["spec"]), "state", "vars", "x"]), json_values)
@fuzz(100)
def test_stored_environments_with_a_random_spec_field(field: str, value: object) -> None:
    raw = json.dumps({**VALID, "spec": {**VALID["spec"], field: value}}).encode()
    _, error = bounded(lambda: codec.decode(Environment, raw, key=KEY, mod_revision=1))
    assert error is None or isinstance(error, UnreadableObjectError), repr(error)


payload_text = st.text(max_size=300) | st.sampled_from(
    [
        "[" * 5000,
        "a: 2024-13-01",
        "1" * 5000,
        "a: " + "1" * 5000,
        "[s]\nk=1\nk=2\n",
        "k=1\n",
        "a: &x [1]\nb: *x\n",
        "!!python/object:os.system x",
    ]
)


@given(st.sampled_from(FORMATS), payload_text)
@fuzz(200)
@example(fmt="json", data="[" * 100_000)
@example(fmt="json", data="1" * 5000)
@example(fmt="yaml", data="[" * 100_000)
@example(fmt="yaml", data="a: 2024-13-01")
@example(fmt="yaml", data="[" * 300 + "1," * 100_000 + "]" * 300)
@example(fmt="yaml", data="a: " + "1" * 5000)
def test_config_payloads_parse_or_raise_config_error(fmt: str, data: str) -> None:
    """Deep nesting, huge integers and impossible dates escaped as RecursionError/ValueError;
    a 200 KB YAML payload 300 lists deep took 5.6 s."""
    _, error = bounded(lambda: parse_payload(fmt, data, config="readout.cfg"))
    if error is not None:
        assert isinstance(error, ConfigError), f"{type(error).__name__}: {error}"
        assert "readout.cfg" in str(error)
