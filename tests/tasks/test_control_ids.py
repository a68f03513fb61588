"""The control ledger's request ids and CONFIGURE digests, computed cheaply but as before: ids
of a uuid4's shape that never repeat, digests equal to `properties_digest` of the same
properties (in any order), computed once per distinct set of properties."""

from __future__ import annotations

import re

import pytest

from controller.tasks import status as st
from controller.tasks.control_ids import PropertiesDigests, RequestIds


def test_request_ids_are_32_hex_digits_and_never_repeat() -> None:
    first, second = RequestIds(), RequestIds()
    ids = [first.next() for _ in range(1000)] + [second.next() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_digest_is_the_properties_digest_computed_once_per_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = st.properties_digest
    computed: list[dict[str, str]] = []

    def counting(properties: dict[str, str]) -> str:
        computed.append(dict(properties))
        return real(properties)

    monkeypatch.setattr(st, "properties_digest", counting)
    digests = PropertiesDigests()
    sets = [{"rate": "100", "detector": f"d{i % 3}"} for i in range(30)]
    assert [digests(p) for p in sets] == [real(p) for p in sets]
    assert len(computed) == 3
    reordered = {"detector": "d0", "rate": "100"}
    assert digests(reordered) == real(reordered) == real(sets[0])
    assert digests({}) == real({})


def test_the_digests_remembered_are_bounded() -> None:
    digests = PropertiesDigests()
    for i in range(PropertiesDigests.LIMIT * 2 + 1):
        assert digests({"i": str(i)}) == st.properties_digest({"i": str(i)})
    assert len(digests._known) <= PropertiesDigests.LIMIT
