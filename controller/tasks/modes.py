"""Node modes in placement: pilots only on async nodes, environment tasks only on sync ones.
Pure: for the task controller's offer round (`controller.tasks.offers`), no I/O.

Async and sync agents are disjoint, so the task controller can run its placement once per group
(`split_by_mode`) over disjoint offers without handing out a resource twice, then `merge` the
plans. A node reclaimed for an environment counts as sync (`effective_mode`); an agent with no
Node resource yet counts as sync (the default mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from controller.tasks import placement
from crds.kinds.node import Node, effective_mode
from crds.kinds.task import Task, is_pilot
from mesosapi.models import Offer


@dataclass(frozen=True)
class Group:
    """Tasks that may only use these offers."""

    mode: str
    tasks: list[Task]
    offers: list[Offer]


def async_agents(nodes: Iterable[Node]) -> set[str]:
    """Agent ids and hostnames of effectively-async nodes."""
    out: set[str] = set()
    for node in nodes:
        if effective_mode(node) == "async":
            out.add(node.status.hostname or node.name)
            if node.status.agent_id:
                out.add(node.status.agent_id)
    return out


def split_by_mode(
    pending: Sequence[Task], offers: Sequence[Offer], nodes: Iterable[Node]
) -> list[Group]:
    """Pilots with the offers of async agents; every other task with the offers of sync ones."""
    asyncs = async_agents(nodes)

    def on_async(offer: Offer) -> bool:
        return offer.agent_id in asyncs or offer.hostname in asyncs

    return [
        Group("async", [t for t in pending if is_pilot(t)], [o for o in offers if on_async(o)]),
        Group(
            "sync", [t for t in pending if not is_pilot(t)], [o for o in offers if not on_async(o)]
        ),
    ]


def place_by_mode(
    pending: Sequence[Task],
    offers: Sequence[Offer],
    *,
    nodes: Iterable[Node],
    executor_id: str,
    cordoned: Iterable[str] = (),
    unique_taken: Mapping[tuple[str, str], set[str]] | None = None,
    signatures: placement.Signatures | None = None,
) -> placement.Plan:
    """`placement.place`, run once per mode group over disjoint offers, merged into one Plan."""
    blocked = set(cordoned)
    merged = placement.Plan()
    groups = split_by_mode(pending, offers, nodes)
    for group in groups:
        if not group.tasks:
            continue
        # Name the mode only when it withheld offers: with no async node the reason stays plain.
        withheld = any(g.offers for g in groups if g is not group)
        plan = placement.place(
            group.tasks,
            group.offers,
            executor_id=executor_id,
            cordoned=blocked,
            unique_taken=unique_taken,
            signatures=signatures,
        )
        merged.placed.extend(plan.placed)
        merged.executor_needed.update(plan.executor_needed)
        for name, why in plan.unplaced.items():
            merged.unplaced[name] = f"{why} (on {group.mode} nodes)" if withheld else why
    return merged


@dataclass(frozen=True)
class Split:
    """One round's usable offers per mode (cordoned agents' left out), for the questions a
    round asks per shape rather than per task."""

    asyncs: list[Offer]
    syncs: list[Offer]
    blocked: set[str]

    def offers_for(self, *, pilot: bool) -> list[Offer]:
        return self.asyncs if pilot else self.syncs

    def why_unplaced(
        self, task: Task, *, taken: Mapping[tuple[str, str], set[str]] | None = None
    ) -> str:
        """What `place_by_mode` says of a task none of the round's offers can host."""
        pilot = is_pilot(task)
        why = placement.why_unplaced(
            task, self.offers_for(pilot=pilot), blocked=self.blocked, taken=taken or {}
        )
        withheld = bool(self.syncs if pilot else self.asyncs)
        return f"{why} (on {'async' if pilot else 'sync'} nodes)" if withheld else why


def split_offers(offers: Sequence[Offer], *, nodes: Iterable[Node], cordoned: set[str]) -> Split:
    """The offers as `place_by_mode` splits them (it keeps cordoned ones, which then name the
    reason a task fits none: so does `why_unplaced` here)."""
    groups = split_by_mode([], offers, nodes)
    return Split(asyncs=groups[0].offers, syncs=groups[1].offers, blocked=cordoned)
