"""Placement: fit pending Tasks into Mesos offers (resources, constraints, cordons). Pure.

`place(pending, offers, ...)` decides, for one OFFERS event, which task goes into which offer
with which concrete ports, and says in plain words why every other task did not fit
(`no agent has detector=TPC`, `insufficient memory: wants 512, largest free 256`). No I/O: the
framework driver turns the plan into one ACCEPT per offer and DECLINEs the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crds.fairmq import CHANNEL_PORT_FLOOR, CONTROL_PORT_FLOOR, port_channels
from crds.kinds.common import Constraint, uses_occ
from crds.kinds.task import Task, TaskSpec
from mesosapi.models import Offer, OfferId
from mesosapi.resources import Allocation, Demand, ResourcePool

EXECUTOR_CPUS = 0.01
EXECUTOR_MEM = 32.0
"""What the o2 executor itself takes on an agent where it does not run yet (Mesos minimum)."""


@dataclass(frozen=True)
class Placed:
    """One task carved out of one offer."""

    task: str
    offer_id: OfferId
    allocation: Allocation


@dataclass(frozen=True)
class Plan:
    """The outcome of one offer round."""

    placed: list[Placed] = field(default_factory=list)
    unplaced: dict[str, str] = field(default_factory=dict)
    """Task name -> why it fits none of the offers."""
    executor_needed: set[OfferId] = field(default_factory=set)
    """Offers on agents where the o2 executor must be started (its resources are taken)."""

    def by_offer(self) -> dict[OfferId, list[Placed]]:
        out: dict[OfferId, list[Placed]] = {}
        for p in self.placed:
            out.setdefault(p.offer_id, []).append(p)
        return out


def attribute_value(offer: Offer, name: str) -> str | None:
    """An agent attribute; `hostname` and `agent_id` are implicit attributes of every agent."""
    value = offer.attribute(name)
    if value is not None:
        return value
    if name == "hostname":
        return offer.hostname
    if name == "agent_id":
        return offer.agent_id
    return None


def _values(text: str) -> set[str]:
    """Comma-separated attribute values act as sets (AliECS semantics)."""
    return {part.strip() for part in text.split(",") if part.strip()}


def _unique_key(task: Task, constraint: Constraint) -> tuple[str, str]:
    return (task.spec.task_class, constraint.attribute)


def satisfies(
    offer: Offer,
    constraint: Constraint,
    *,
    task: Task,
    taken: Mapping[tuple[str, str], set[str]],
) -> bool:
    """Whether the offer's agent meets one constraint; `taken` holds UNIQUE values in use."""
    if constraint.operator == "UNIQUE":
        value = attribute_value(offer, constraint.attribute)
        return value is not None and value not in taken.get(_unique_key(task, constraint), set())
    return meets(offer, constraint)


def meets(offer: Offer, constraint: Constraint) -> bool:
    """`satisfies` before any value is taken: a UNIQUE constraint asks only that the agent has
    the attribute."""
    return value_meets(attribute_value(offer, constraint.attribute), constraint)


def value_meets(value: str | None, constraint: Constraint) -> bool:
    """`meets` for an agent whose attribute `constraint.attribute` is `value` (None: absent)."""
    op = constraint.operator
    if op == "UNIQUE":
        return value is not None
    if value is None:
        return op == "NOT_EQUALS"
    have = _values(value) or {value}
    if op == "EQUALS":
        return constraint.value in have or value == constraint.value
    if op == "NOT_EQUALS":
        return constraint.value not in have and value != constraint.value
    if op == "IN":
        return bool(have & set(constraint.choices())) or value in constraint.choices()
    return re.fullmatch(constraint.value, value) is not None


def describe_constraint(constraint: Constraint) -> str:
    """`detector=TPC`, `detector!=TPC`, `detector in [TPC, ITS]`, `detector~TP.*`."""
    op = constraint.operator
    name = constraint.attribute
    if op == "EQUALS":
        return f"{name}={constraint.value}"
    if op == "NOT_EQUALS":
        return f"{name}!={constraint.value}"
    if op == "IN":
        return f"{name} in [{', '.join(constraint.choices())}]"
    if op == "REGEX":
        return f"{name} matching {constraint.value}"
    return f"a free {name} (UNIQUE)"


def demand_of(task: Task) -> Demand:
    wants = task.spec.wants
    return Demand(cpus=wants.cpus, mem=float(wants.memory), ports=wants.ports)


def occ_port_count(task: Task) -> int:
    """A `direct` or `fairmq` task gets one extra port: its OCC control port (the last one)."""
    return 1 if uses_occ(task.spec.control) else 0


@dataclass
class _OfferState:
    offer: Offer
    pool: ResourcePool
    executor_ready: bool


def _open_pools(offers: Sequence[Offer], *, executor_id: str) -> list[_OfferState]:
    states = []
    for offer in offers:
        pool = ResourcePool(offer.resources)
        ready = executor_id in offer.executor_ids
        states.append(_OfferState(offer=offer, pool=pool, executor_ready=ready))
    return states


def _fit(state: _OfferState, demand: Demand) -> Allocation | None:
    """Take `demand` (plus the executor's share the first time) from one offer."""
    if not state.executor_ready:
        total = demand + Demand(cpus=EXECUTOR_CPUS, mem=EXECUTOR_MEM)
        if not state.pool.fits(total):
            return None
        state.pool.take(Demand(cpus=EXECUTOR_CPUS, mem=EXECUTOR_MEM))
        state.executor_ready = True
    return state.pool.take(demand)


def place(
    pending: Sequence[Task],
    offers: Sequence[Offer],
    *,
    executor_id: str,
    cordoned: Iterable[str] = (),
    unique_taken: Mapping[tuple[str, str], set[str]] | None = None,
    signatures: Signatures | None = None,
) -> Plan:
    """Fit `pending` tasks (in order) into `offers`; cordoned agents (ids or hostnames) get none.

    `unique_taken` maps (task class, attribute) to the attribute values already used by running
    tasks, for UNIQUE constraints; it is extended as tasks are placed in this round.
    `signatures`: the demands and signatures remembered from earlier rounds (the caller keeps
    it across rounds; a fresh one when None).
    """
    signatures = signatures if signatures is not None else Signatures()
    blocked = set(cordoned)
    usable = [o for o in offers if o.agent_id not in blocked and o.hostname not in blocked]
    states = _open_pools(usable, executor_id=executor_id)
    taken = {k: set(v) for k, v in (unique_taken or {}).items()}
    plan = Plan()
    first_open: dict[int, int] = {}
    """Per signature, the first offer that may still fit it: those before did not, and within
    a round resources only shrink (10,000 alike tasks cost O(tasks + offers), not the product)."""
    failed: dict[int, str] = {}
    allowed: dict[tuple[int, int], bool] = {}
    """(signature, offer index) -> whether the offer meets the signature's constraints: asked
    once per shape and offer, not per task."""
    for task in pending:
        demand, sig = signatures.of(task)
        if sig is not None and sig in failed:
            plan.unplaced[task.name] = failed[sig]
            continue
        start = first_open.get(sig, 0) if sig is not None else 0
        placed = _place_one(
            task, demand, states, taken=taken, start=start, sig=sig, allowed=allowed
        )
        if placed is None:
            why = why_unplaced(task, offers, blocked=blocked, taken=taken, states=states)
            plan.unplaced[task.name] = why
            if sig is not None:
                failed[sig] = why
            continue
        index, allocation = placed
        state = states[index]
        if sig is not None:
            first_open[sig] = index
        if executor_id not in state.offer.executor_ids:
            plan.executor_needed.add(state.offer.id)
        plan.placed.append(Placed(task=task.name, offer_id=state.offer.id, allocation=allocation))
        for c in task.spec.constraints:
            if c.operator == "UNIQUE":
                value = attribute_value(state.offer, c.attribute) or ""
                taken.setdefault(_unique_key(task, c), set()).add(value)
    return plan


_Signature = tuple[Demand, tuple[Constraint, ...]]


class Signatures:
    """Each pending task's demand and signature (as a small number: equal signatures, equal
    numbers), kept across offer rounds while the task's spec object stays the same (a status
    write keeps it; specs are frozen). A round looks at every pending task, and most fit none of
    its offers (a deploy pinned to 50 detectors gets a few agents' offers per round): computing
    each one's demand and hashing its constraints per round was most of a round's cost."""

    def __init__(self) -> None:
        self._by_task: dict[str, tuple[TaskSpec, Demand, int | None]] = {}
        self._ids: dict[_Signature, int] = {}
        self._demands: dict[Demand, Demand] = {}
        """One object per distinct demand: what a take works out from a demand once (its
        fixed-point amounts) is then worked out once per role, not once per task."""
        self.computed = 0
        """Demands computed (not remembered): what a round cost beyond lookups."""

    def of(self, task: Task) -> tuple[Demand, int | None]:
        """The task's demand, and its signature's number (None: UNIQUE constraints)."""
        memo = self._by_task.get(task.name)
        if memo is not None and memo[0] is task.spec:
            return memo[1], memo[2]
        self.computed += 1
        demand = demand_with_ports(task)
        demand = self._demands.setdefault(demand, demand)
        sig = _signature(task, demand)
        number = None if sig is None else self._ids.setdefault(sig, len(self._ids))
        self._by_task[task.name] = (task.spec, demand, number)
        return demand, number

    def keep(self, names: Iterable[str]) -> None:
        """Forget every task but `names` (those still pending)."""
        by_task = self._by_task
        self._by_task = {n: m for n in names if (m := by_task.get(n)) is not None}
        if not self._by_task:
            self._ids = {}
            self._demands = {}


def channel_port_count(task: Task) -> int:
    """One port per tcp inbound channel whose address o2 allocates."""
    return len(port_channels(task.spec.bind))


def demand_with_ports(task: Task) -> Demand:
    """The task's resources, its `wants.ports` (lowest free), then as AliECS takes them a port
    per tcp inbound channel (lowest free >= 9000) and the OCC control port (lowest free >=
    30000): allocation.ports is [wanted..., channel..., control]. Alike tasks get one shared
    (frozen) Demand: a deploy asks it twice per task (its shape, then its placement), and
    building it was ~10 us each time."""
    wants = task.spec.wants
    key = (wants.cpus, wants.memory, wants.ports, channel_port_count(task), occ_port_count(task))
    demand = _DEMANDS.get(key)
    if demand is None:
        if len(_DEMANDS) >= _DEMANDS_KEPT:
            _DEMANDS.clear()
        cpus, memory, ports, channels, occ = key
        floors = (CHANNEL_PORT_FLOOR,) * channels + (CONTROL_PORT_FLOOR,) * occ
        demand = _DEMANDS[key] = Demand(cpus=cpus, mem=float(memory), ports=ports, floors=floors)
    return demand


_DEMANDS: dict[tuple[float, int, int, int, int], Demand] = {}
"""(cpus, memory, wanted ports, channel ports, control ports) -> its Demand."""
_DEMANDS_KEPT = 4096


def _signature(task: Task, demand: Demand) -> _Signature | None:
    """What decides where a task fits, when that does not change as tasks are placed (UNIQUE
    constraints do: such tasks have none)."""
    constraints = tuple(task.spec.constraints)
    if any(c.operator == "UNIQUE" for c in constraints):
        return None
    return demand, constraints


def _place_one(
    task: Task,
    demand: Demand,
    states: list[_OfferState],
    *,
    taken: Mapping[tuple[str, str], set[str]],
    start: int = 0,
    sig: int | None = None,
    allowed: dict[tuple[int, int], bool] | None = None,
) -> tuple[int, Allocation] | None:
    """The first offer from `start` that meets the task's constraints and fits its demand;
    with a signature (no UNIQUE constraint), whether an offer meets them is looked up in
    `allowed` (filled as it goes)."""
    for index in range(start, len(states)):
        state = states[index]
        if sig is None or allowed is None:
            ok = _meets_all(task, state.offer, taken)
        elif (ok_known := allowed.get((sig, index))) is None:
            ok = allowed[sig, index] = _meets_all(task, state.offer, taken)
        else:
            ok = ok_known
        if not ok:
            continue
        allocation = _fit(state, demand)
        if allocation is not None:
            return index, allocation
    return None


def _meets_all(task: Task, offer: Offer, taken: Mapping[tuple[str, str], set[str]]) -> bool:
    return all(satisfies(offer, c, task=task, taken=taken) for c in task.spec.constraints)


def why_unplaced(
    task: Task,
    offers: Sequence[Offer],
    *,
    blocked: set[str],
    taken: Mapping[tuple[str, str], set[str]],
    states: Sequence[_OfferState] = (),
) -> str:
    """The plainest true reason a task fits none of `offers`."""
    if not offers:
        return "no offers from any agent"
    open_offers = [o for o in offers if o.agent_id not in blocked and o.hostname not in blocked]
    if not open_offers:
        return "every offering agent is cordoned"
    matching = open_offers
    for c in task.spec.constraints:
        matching = [o for o in matching if satisfies(o, c, task=task, taken=taken)]
        if not matching:
            return f"no agent has {describe_constraint(c)}"
    by_id = {s.offer.id: s for s in states}
    return _resource_reason(
        task,
        [by_id.get(o.id) or _OfferState(o, ResourcePool(o.resources), False) for o in matching],
    )


def _free(state: _OfferState, name: str) -> float:
    """What a task could still get: the executor's share is not for tasks."""
    overhead = {"cpus": EXECUTOR_CPUS, "mem": EXECUTOR_MEM}.get(name, 0.0)
    have = state.pool.available(name)
    return max(0.0, have - overhead) if not state.executor_ready else have


def _resource_reason(task: Task, states: Sequence[_OfferState]) -> str:
    wants = task.spec.wants
    ports = wants.ports + channel_port_count(task) + occ_port_count(task)
    checks = (
        ("cpus", wants.cpus, max(round(_free(s, "cpus"), 3) for s in states)),
        ("memory", float(wants.memory), max(_free(s, "mem") for s in states)),
        ("ports", float(ports), float(max(s.pool.available_ports() for s in states))),
    )
    for label, want, best in checks:
        if want > best:
            return f"insufficient {label}: wants {want:g}, largest free {best:g}"
    return "resources are taken by other tasks in this round"
