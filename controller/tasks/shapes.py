"""Shapes of pending Tasks and which offers can host them. Pure: for the offer round.

Tasks of one role share a shape (mode, demand, constraints): an offer round decides per shape,
not per task, which of its offers could host it and how many such tasks they could hold at
most, so a round with a few agents' offers looks at the tasks those offers can take, not at
every pending task (50,000 tasks pinned to 500 detectors made each round scan all of them).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from controller.tasks.placement import attribute_value, demand_with_ports, meets
from crds.kinds.common import Constraint
from crds.kinds.task import Task, is_pilot
from mesosapi.models import Offer
from mesosapi.resources import Demand, ResourcePool

IMPLICIT_ATTRIBUTES = ("hostname", "agent_id")


@dataclass(frozen=True)
class Shape:
    """What decides where a task may go: equal shapes, equal answers in one round."""

    pilot: bool
    demand: Demand
    constraints: tuple[Constraint, ...]
    task_class: str
    """Only for UNIQUE constraints (whose values are taken per task class); "" otherwise."""

    @functools.cached_property
    def unique(self) -> bool:
        """UNIQUE constraints: tasks of this shape are placed one by one (values get taken)."""
        return any(c.operator == "UNIQUE" for c in self.constraints)

    @functools.cached_property
    def key(self) -> tuple[str, str] | None:
        """The first EQUALS constraint's (attribute, value): offers are looked up by it."""
        first = next((c for c in self.constraints if c.operator == "EQUALS"), None)
        return None if first is None else (first.attribute, first.value)


def shape_of(task: Task) -> Shape:
    constraints = tuple(task.spec.constraints)
    unique = any(c.operator == "UNIQUE" for c in constraints)
    return Shape(
        pilot=is_pilot(task),
        demand=demand_with_ports(task),
        constraints=constraints,
        task_class=task.spec.task_class if unique else "",
    )


class OfferIndex:
    """Offers by each (attribute, value) they have, so a shape with an EQUALS constraint finds
    its offers by one lookup instead of trying every offer."""

    def __init__(self, offers: Sequence[Offer]) -> None:
        self.offers = list(offers)
        self._by_value: dict[tuple[str, str], list[Offer]] = {}
        for offer in self.offers:
            names = [a.name for a in offer.attributes]
            for name in (*names, *IMPLICIT_ATTRIBUTES):
                text = attribute_value(offer, name)
                if text is None:
                    continue
                values = {part.strip() for part in text.split(",")} | {text}
                for value in values:
                    self._by_value.setdefault((name, value), []).append(offer)

    def hosts(self, shape: Shape) -> list[Offer]:
        """The offers meeting every constraint of `shape`, UNIQUE ones as if no value were
        taken yet (placement judges those), in offer order."""
        offers = self.offers if shape.key is None else self._by_value.get(shape.key)
        if not offers:
            return []
        return [o for o in offers if all(meets(o, c) for c in shape.constraints)]


def capacity(pool: ResourcePool, demand: Demand) -> float:
    """At most how many tasks of `demand` the whole (untouched) offer holds (inf when it asks
    nothing)."""
    most = math.inf
    for name, value in demand.all_scalars():
        most = min(most, math.floor(pool.available(name) / value + 1e-9))
    ports = demand.ports + len(demand.floors)
    if ports:
        most = min(most, pool.available_ports() // ports)
    return most
