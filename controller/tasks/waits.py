"""Whether tasks that fit none of a round's offers wait for an agent outside the round. Pure
bookkeeping for controller.tasks.offers: no store, no Mesos.

Such a task waits for an agent that offered before this term, is not cordoned, meets all its
constraints (UNIQUE ones are judged when its offer comes) and is of its mode (an async node's
offers serve only its pilot, a sync node's never a pilot: controller.tasks.modes; a task that
only async nodes could host is reported at once, which is what a reclaim waits for). Agents that
have not offered yet this term count too when their Node is ready: after a (re)subscription the
master offers each agent in turn, and 50,000 tasks pinned to 500 agents were reported
unschedulable (46,000 Events) before their agents' first offers came.

Which agents could host a group's shape is worked out once and kept across rounds, until an
agent offers for the first time or with other attributes, or a Node changes: a round then
only asks whether one of them is outside it. Worked out per round, it was most of an offer
round's cost with 50,000 tasks pinned to 500 agents (1,000 groups, ~15 ms a round).
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.tasks import placement
from controller.tasks.queue import Group, Host
from controller.tasks.shapes import OfferIndex
from crds.kinds.node import Node, effective_mode
from mesosapi.models import Offer


class AgentWaits:
    """The hosts of each group, kept across rounds (see the module's note)."""

    def __init__(self) -> None:
        self._version = 0
        """Bumped when the answers are void (a group keeps its hosts with the version)."""
        self._index: dict[bool, OfferIndex] = {}
        self._registered: dict[tuple[str, str] | None, list[Node]] | None = None
        self._cordoned: frozenset[str] | None = None
        self.computed = 0
        """Groups whose hosts were worked out (not remembered): what the rounds cost."""

    def forget(self) -> None:
        """Something the answers depend on changed (a Node, the agents known, a cordon)."""
        self._version += 1
        self._index = {}
        self._registered = None

    def node_changed(self, old: Node | None, new: Node | None) -> None:
        """A Node event: only a change of what decides who could host voids the answers (its
        task count and last contact change all through a deploy)."""
        if old is None or new is None or _hosting(old) != _hosting(new):
            self.forget()

    def offered(self, known: dict[str, Offer], offers: Iterable[Offer]) -> None:
        """A round's offers, before they go into `known` (agent id -> its last offer): a new
        agent, or one whose hostname or attributes changed, voids the answers."""
        for offer in offers:
            was = known.get(offer.agent_id)
            if was is None or was.hostname != offer.hostname or was.attributes != offer.attributes:
                self.forget()
                return

    def round(
        self,
        known: dict[str, Offer],
        offers: list[Offer],
        *,
        cordoned: set[str],
        asyncs: set[str],
        nodes: list[Node],
    ) -> RoundWaits:
        """The answers for one round (`known` already holds its offers)."""
        frozen = frozenset(cordoned)
        if frozen != self._cordoned:
            self.forget()
            self._cordoned = frozen
        return RoundWaits(self, known, offers, cordoned=frozen, asyncs=asyncs, nodes=nodes)

    def hosts(self, group: Group, make: RoundWaits) -> tuple[Host, ...]:
        memo = group.hosts
        if memo is not None and memo[0] == self._version:
            return memo[1]
        self.computed += 1
        hosts = make.hosts(group)
        group.hosts = (self._version, hosts)
        return hosts

    def index(self, pilot: bool, make: RoundWaits) -> OfferIndex:
        index = self._index.get(pilot)
        if index is None:
            index = self._index[pilot] = make.index(pilot=pilot)
        return index

    def registered(self, make: RoundWaits) -> dict[tuple[str, str] | None, list[Node]]:
        if self._registered is None:
            self._registered = make.registered()
        return self._registered


class RoundWaits:
    """`waits(group)`: whether the group's tasks that fit none of this round's offers wait for
    an agent outside it."""

    def __init__(
        self,
        book: AgentWaits,
        known: dict[str, Offer],
        offers: list[Offer],
        *,
        cordoned: frozenset[str],
        asyncs: set[str],
        nodes: list[Node],
    ) -> None:
        self._book = book
        self._known = known
        self._offered = {o.agent_id for o in offers} | {o.hostname for o in offers}
        self._cordoned = cordoned
        self._asyncs = asyncs
        self._nodes = nodes

    def __call__(self, group: Group) -> bool:
        if not group.shape.constraints:
            return False
        offered = self._offered
        for agent, host, registered in self._book.hosts(group, self):
            if agent not in offered and not (registered and host in offered):
                return True
        return False

    def hosts(self, group: Group) -> tuple[Host, ...]:
        """The agents that could host the group's shape, whichever round they offer in: known
        ones (by their last offer), then ready Nodes whose agent has not offered this term."""
        shape = group.shape
        out: list[Host] = [
            (o.agent_id, o.hostname, False)
            for o in self._book.index(shape.pilot, self).hosts(shape)
        ]
        registered = self._book.registered(self)
        for node in registered.get(shape.key, ()) if shape.key else registered.get(None, ()):
            if (effective_mode(node) == "async") != shape.pilot:
                continue
            status = node.status
            agent, host = status.agent_id or "", status.hostname or node.name
            implicit = {"hostname": host, "agent_id": agent}
            if all(
                placement.value_meets(
                    status.attributes.get(c.attribute, implicit.get(c.attribute)), c
                )
                for c in shape.constraints
            ):
                out.append((agent, host, True))
        return tuple(out)

    def index(self, *, pilot: bool) -> OfferIndex:
        """Every known agent's last offer, of one mode, cordoned ones left out."""
        return OfferIndex(
            [
                o
                for agent, o in self._known.items()
                if agent not in self._cordoned
                and o.hostname not in self._cordoned
                and (agent in self._asyncs or o.hostname in self._asyncs) == pilot
            ]
        )

    def registered(self) -> dict[tuple[str, str] | None, list[Node]]:
        """The ready Nodes whose agent has not offered this term, not cordoned: all of them
        under None, and each under every (attribute, value) it has (hostname and agent id
        included), as `OfferIndex` holds offers."""
        out: dict[tuple[str, str] | None, list[Node]] = {None: []}
        for node in self._nodes:
            status = node.status
            agent, host = status.agent_id or "", status.hostname or node.name
            if not status.ready or agent in self._known:
                continue
            if {agent, host, node.name} & self._cordoned:
                continue
            out[None].append(node)
            values = {"hostname": host, "agent_id": agent, **status.attributes}
            for name, text in values.items():
                for value in {part.strip() for part in text.split(",")} | {text}:
                    out.setdefault((name, value), []).append(node)
        return out


def _hosting(node: Node) -> tuple[object, ...]:
    """What of a Node decides whether it could host a shape (see `RoundWaits.hosts`)."""
    status = node.status
    return (
        status.agent_id,
        status.hostname,
        status.ready,
        status.attributes,
        effective_mode(node),
        node.spec.unschedulable,
    )
