"""The control ledger's request ids, CONFIGURE digests and due resends, computed cheaply but as
before: ids of a uuid4's shape that never repeat, digests equal to `properties_digest` of the
same properties (in any order) computed once per distinct set of properties, and the requests
past their deadline found without a look through every request in flight before each pass."""

from __future__ import annotations

import random
import re
from types import SimpleNamespace
from typing import cast

import pytest

from controller.tasks import status as st
from controller.tasks.control import ControlLedger
from controller.tasks.control_ids import PropertiesDigests, RequestIds
from controller.tasks.shared import Shared
from mesosapi.o2messages import ControlItem


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


class CountingDict(dict[str, tuple[str, float, str]]):
    """The ledger's in-flight requests, counting the looks through all of them."""

    looks = 0

    def items(self):  # type: ignore[override]
        CountingDict.looks += 1
        return super().items()

    def values(self):  # type: ignore[override]
        CountingDict.looks += 1
        return super().values()


def ledger() -> ControlLedger:
    config = SimpleNamespace(control_timeout=30.0, control_margin=2.0)
    ledger = ControlLedger(cast(Shared, SimpleNamespace(config=config)))
    ledger._inflight = CountingDict()
    return ledger


def item(name: str, step: int) -> ControlItem:
    return ControlItem(task_id=f"{name}.l1", transition_id=f"x:{step}", event="CONFIGURE")


def test_due_resends_answers_as_a_look_through_every_request_would() -> None:
    rng = random.Random(21)
    ledger_ = ledger()
    now = 0.0
    for _ in range(3000):
        op = rng.random()
        if op < 0.4:
            names = rng.sample([f"t{i}" for i in range(40)], rng.randint(1, 5))
            entries = [(n, [item(n, s) for s in range(rng.randint(1, 3))]) for n in names]
            ledger_._request_for(("a1", "e"), entries, now=now)
        elif op < 0.7 and ledger_._inflight:
            ledger_._inflight.pop(rng.choice(sorted(ledger_._inflight)))  # answered
        elif op < 0.71:
            ledger_.forget_requests()
        now += rng.random() * 3
        brute = {n for n, (_, d, _) in dict.items(ledger_._inflight) if d <= now}
        assert ledger_.due_resends(now) == brute


def test_due_resends_looks_through_the_requests_only_once_a_deadline_passed() -> None:
    ledger_ = ledger()
    names = [f"t{i}" for i in range(1000)]
    ledger_._request_for(("a1", "e"), [(n, [item(n, 1)]) for n in names], now=0.0)
    CountingDict.looks = 0
    for tick in range(60):
        assert ledger_.due_resends(tick * 0.5) == set()  # the deadline is 32 s away
    assert CountingDict.looks == 0
    assert ledger_.due_resends(32.0) == set(names)
    assert CountingDict.looks > 0
