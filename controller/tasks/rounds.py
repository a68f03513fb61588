"""Which pending Tasks an offer round tries, and why the others fit none of its offers. Pure:
for controller.tasks.offers, no I/O.

A round tries, per shape (controller.tasks.shapes), only as many of its tasks as the round's
offers that meet the shape's constraints could hold at most, plus one (the one that finds them
full, and says why), in line order and at most `ROUND_TASKS` in all. A shape no offer can host
is not tried: its tasks share the reason placement would give each. So a round with a few
agents' offers costs what those offers can take, and 50,000 pending tasks pinned to 500
agents are not each looked at on every round.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from controller.tasks.modes import Split
from controller.tasks.queue import Group
from controller.tasks.shapes import OfferIndex, capacity
from crds.kinds.task import Task
from mesosapi.models import Offer, OfferId
from mesosapi.resources import ResourcePool

ROUND_TASKS = 2000
"""At most this many tasks are tried in one round (placing is synchronous: ~20 µs a task, so
a round holds the event loop for tens of ms, not seconds). Those left untried for that reason
are not misfits: the offers that could take them are answered without a filter (`again`), so
their agents offer what is left at the master's next allocation, and they go first then."""


@dataclass(eq=False)
class Tried:
    """One group in one round."""

    group: Group
    hosted: bool
    """Some offer of the round meets the shape's constraints."""
    names: list[str] = field(default_factory=list)
    """The group's tasks tried this round (handed to placement)."""
    hosts: list[OfferId] = field(default_factory=list)
    """The round's offers meeting the shape's constraints."""
    untried: bool = False
    """Some of its tasks were left out only by the round's limit."""
    complete: bool = False
    """Every task it could try was handed out (or the round's offers hold no more)."""


@dataclass
class Selection:
    tasks: list[Task]
    """What placement gets, in line order."""
    tried: list[Tried]

    @property
    def again(self) -> set[OfferId]:
        """The offers that could take tasks left untried: answered without a filter."""
        return {o for entry in self.tried if entry.untried for o in entry.hosts}


class _Hosts:
    """Offers by mode, indexed; each offer's pool built once a round."""

    def __init__(self, split: Split) -> None:
        self._indexes = {
            pilot: OfferIndex([o for o in split.offers_for(pilot=pilot) if _open(o, split)])
            for pilot in (True, False)
        }
        self._pools: dict[OfferId, ResourcePool] = {}

    def room(self, group: Group) -> tuple[float, list[Offer]]:
        """At most how many of the group's tasks the round's offers hold (0: none meets its
        constraints), and those offers."""
        shape = group.shape
        hosts = self._indexes[shape.pilot].hosts(shape)
        if shape.unique and hosts:
            return math.inf, hosts  # each judged by placement: values get taken as it places
        return sum(capacity(self._pool(o), shape.demand) for o in hosts), hosts

    def _pool(self, offer: Offer) -> ResourcePool:
        pool = self._pools.get(offer.id)
        if pool is None:
            pool = self._pools[offer.id] = ResourcePool(offer.resources)
        return pool


def _open(offer: Offer, split: Split) -> bool:
    return offer.agent_id not in split.blocked and offer.hostname not in split.blocked


def select(
    groups: list[Group],
    split: Split,
    *,
    launchable: Callable[[str], Task | None],
    limit: int = ROUND_TASKS,
) -> Selection:
    """The tasks to try this round (see the module's note)."""
    hosts = _Hosts(split)
    tried: list[Tried] = []
    lines: list[Iterator[tuple[int, Task, Tried]]] = []
    for group in groups:
        room, offers = hosts.room(group)
        entry = Tried(group, hosted=room > 0, hosts=[o.id for o in offers])
        tried.append(entry)
        if entry.hosted:
            lines.append(_line(group, room + 1, launchable, entry))
    tasks: list[Task] = []
    for _seq, task, entry in heapq.merge(*lines, key=lambda x: x[0]):
        if len(tasks) >= limit:
            break
        tasks.append(task)
        entry.names.append(task.name)
    for entry in tried:
        entry.untried = entry.hosted and not entry.complete
    return Selection(tasks=tasks, tried=tried)


def _line(
    group: Group, most: float, launchable: Callable[[str], Task | None], entry: Tried
) -> Iterator[tuple[int, Task, Tried]]:
    """Up to `most` launchable tasks of the group, in line order."""
    count = 0
    for name, seq in group.names.items():  # nothing changes the group while a round selects
        if count >= most:
            break
        task = launchable(name)
        if task is not None:
            count += 1
            yield seq, task, entry
    entry.complete = True
