"""An agent's resource ledger: what is offered, held and free, moved only through its methods."""

from __future__ import annotations

from localmesos.resources import ResourceLedger, Resources, parse_ranges


def res(*, cpus: float = 0.0, mem: float = 0.0, ports: str = "") -> Resources:
    scalars = {k: v for k, v in (("cpus", cpus), ("mem", mem)) if v}
    return Resources(scalars, {"ports": parse_ranges(ports)} if ports else {})


def test_offered_resources_are_not_available_until_the_offer_is_dropped() -> None:
    ledger = ResourceLedger(res(cpus=4, mem=1024, ports="[31000-31009]"))
    offered = ledger.available()
    ledger.offer(offered)
    assert ledger.available().is_empty()
    assert ledger.offered == offered
    ledger.drop_offer(offered)
    assert ledger.available() == ledger.total
    assert ledger.offered.is_empty()


def test_claimed_resources_stay_used_until_released_and_ports_come_back_whole() -> None:
    ledger = ResourceLedger(res(cpus=4, mem=1024, ports="[31000-31009]"))
    task = res(cpus=1, mem=100, ports="[31002-31003]")
    executor = res(cpus=0.01, mem=32)
    ledger.claim(task)
    ledger.claim(executor)
    assert ledger.used == res(cpus=1.01, mem=132, ports="[31002-31003]")
    assert ledger.available() == res(cpus=2.99, mem=892, ports="[31000-31001, 31004-31009]")
    ledger.release(task)
    ledger.release(executor)
    assert ledger.used.is_empty()
    assert ledger.available() == ledger.total


def test_an_accept_claims_what_it_launches_after_its_offer_is_dropped() -> None:
    ledger = ResourceLedger(res(cpus=2, mem=512))
    offer = ledger.available()
    ledger.offer(offer)
    ledger.drop_offer(offer)
    ledger.claim(res(cpus=0.5, mem=128))
    assert ledger.available() == res(cpus=1.5, mem=384)
