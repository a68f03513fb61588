"""Placement is pure: offers and pending tasks in, launches and reasons out."""

from __future__ import annotations

from typing import Any

from controller.tasks.placement import Signatures, place
from crds.kinds.common import Command, Constraint, Wants
from crds.kinds.task import Task, TaskSpec
from crds.meta import ObjectMeta
from mesosapi.models import AgentId, Attribute, ExecutorId, FrameworkId, Offer, OfferId, Text
from mesosapi.resources import Demand, ranges, scalar

EXECUTOR = "o2-executor"


def offer(
    n: int,
    *,
    cpus: float = 4,
    mem: float = 1024,
    ports: tuple[int, int] = (31000, 31009),
    attrs: dict[str, str] | None = None,
    executor_running: bool = False,
) -> Offer:
    return Offer(
        id=OfferId(f"o{n}"),
        framework_id=FrameworkId("fw"),
        agent_id=AgentId(f"a{n}"),
        hostname=f"host-{n}",
        resources=[scalar("cpus", cpus), scalar("mem", mem), ranges("ports", [ports])],
        attributes=[
            Attribute(name=k, type="TEXT", text=Text(value=v)) for k, v in (attrs or {}).items()
        ],
        executor_ids=[ExecutorId(EXECUTOR)] if executor_running else [],
    )


def task(
    name: str,
    *,
    memory: int = 64,
    ports: int = 0,
    control: str = "occ",
    constraints: tuple[Constraint, ...] = (),
    task_class: str = "readout",
) -> Task:
    spec = TaskSpec(
        task_class=task_class,
        command=Command(value="/bin/true"),
        control=control,
        wants=Wants(cpus=0.5, memory=memory, ports=ports),
        constraints=constraints,
    )
    return Task(metadata=ObjectMeta(name=name), spec=spec)


def test_many_tasks_share_one_offer_with_distinct_concrete_ports() -> None:
    plan = place([task("a", ports=2), task("b", ports=2)], [offer(1)], executor_id=EXECUTOR)
    assert [p.task for p in plan.placed] == ["a", "b"]
    assert {p.offer_id for p in plan.placed} == {"o1"}
    # wants ports first, then the OCC control port
    assert plan.placed[0].allocation.ports == [31000, 31001, 31002]
    assert plan.placed[1].allocation.ports == [31003, 31004, 31005]
    assert plan.executor_needed == {"o1"}


def test_basic_tasks_take_no_control_port_and_running_executor_takes_nothing() -> None:
    plan = place(
        [task("a", memory=1024, control="process")],
        [offer(1, mem=1024, executor_running=True)],
        executor_id=EXECUTOR,
    )
    assert plan.placed[0].allocation.ports == []
    assert not plan.executor_needed and not plan.unplaced


def test_new_executor_needs_its_own_share_of_the_offer() -> None:
    plan = place([task("a", memory=1024)], [offer(1, mem=1024)], executor_id=EXECUTOR)
    assert plan.unplaced == {"a": "insufficient memory: wants 1024, largest free 992"}


def test_attribute_constraints_pick_the_matching_agent() -> None:
    offers = [offer(1, attrs={"detector": "ITS"}), offer(2, attrs={"detector": "TPC,TRD"})]
    plan = place(
        [
            task("eq", constraints=(Constraint(attribute="detector", value="TPC"),)),
            task(
                "ne",
                constraints=(Constraint(attribute="detector", operator="NOT_EQUALS", value="ITS"),),
            ),
            task(
                "in",
                constraints=(Constraint(attribute="detector", operator="IN", value="ITS,MFT"),),
            ),
            task(
                "rx",
                constraints=(Constraint(attribute="detector", operator="REGEX", value="TP.*"),),
            ),
            task("pin", constraints=(Constraint(attribute="hostname", value="host-1"),)),
        ],
        offers,
        executor_id=EXECUTOR,
    )
    where = {p.task: p.offer_id for p in plan.placed}
    assert where == {"eq": "o2", "ne": "o2", "in": "o1", "rx": "o2", "pin": "o1"}


def test_unique_constraint_puts_one_task_of_a_class_per_host() -> None:
    unique = (Constraint(attribute="hostname", operator="UNIQUE"),)
    tasks = [task(f"t{i}", constraints=unique) for i in range(3)]
    plan = place(tasks, [offer(1), offer(2)], executor_id=EXECUTOR)
    assert sorted(p.offer_id for p in plan.placed) == ["o1", "o2"]
    assert plan.unplaced == {"t2": "no agent has a free hostname (UNIQUE)"}


def test_unique_constraint_counts_tasks_already_running() -> None:
    unique = (Constraint(attribute="hostname", operator="UNIQUE"),)
    plan = place(
        [task("t", constraints=unique)],
        [offer(1), offer(2)],
        executor_id=EXECUTOR,
        unique_taken={("readout", "hostname"): {"host-1"}},
    )
    assert [p.offer_id for p in plan.placed] == ["o2"]


def test_misfits_say_why_in_plain_words() -> None:
    plan = place(
        [
            task("tpc", constraints=(Constraint(attribute="detector", value="TPC"),)),
            task("big", memory=4096),
            task("ports", ports=50),
        ],
        [offer(1, mem=512), offer(2, mem=256)],
        executor_id=EXECUTOR,
    )
    assert plan.unplaced == {
        "tpc": "no agent has detector=TPC",
        "big": "insufficient memory: wants 4096, largest free 480",
        "ports": "insufficient ports: wants 51, largest free 10",
    }


def test_cordoned_agents_get_no_tasks() -> None:
    plan = place([task("a")], [offer(1), offer(2)], executor_id=EXECUTOR, cordoned={"host-1"})
    assert [p.offer_id for p in plan.placed] == ["o2"]
    plan = place([task("a")], [offer(1)], executor_id=EXECUTOR, cordoned={"a1"})
    assert plan.unplaced == {"a": "every offering agent is cordoned"}


def test_rounds_compute_each_pending_tasks_demand_once() -> None:
    """Each round looks at every pending task and most fit none of its offers (tasks pinned to
    agents that offer in other rounds): their demands are remembered across rounds while their
    spec objects stay, so a round over them costs lookups, not a demand each."""
    pinned = tuple(
        task(f"t{i}", constraints=(Constraint(attribute="detector", value=f"d{i % 3}"),))
        for i in range(30)
    )
    signatures = Signatures()
    rounds = [offer(n, cpus=64, attrs={"detector": f"d{n}"}) for n in range(3)]
    first = place(pinned, [rounds[0]], executor_id=EXECUTOR, signatures=signatures)
    assert len(first.placed) == 10 and signatures.computed == 30
    left = [t for t in pinned if t.name not in {p.task for p in first.placed}]
    signatures.keep(t.name for t in left)
    second = place(left, [rounds[1]], executor_id=EXECUTOR, signatures=signatures)
    assert len(second.placed) == 10 and signatures.computed == 30  # nothing computed again
    changed = left[0].model_copy(update={"spec": left[0].spec.model_copy()})
    place([changed, *left[1:]], [rounds[2]], executor_id=EXECUTOR, signatures=signatures)
    assert signatures.computed == 31  # a new spec object: computed again


def test_constraints_are_judged_once_per_shape_and_offer_not_per_task(monkeypatch: Any) -> None:
    """1,000 alike tasks pinned to one detector, 10 offers of which 2 are that detector's:
    whether an offer meets the constraints is asked once per shape and offer (it was asked
    again for every task, from the offer the previous one went to)."""
    from controller.tasks import placement

    asked: list[str] = []
    real = placement.satisfies

    def counted(offer: Offer, constraint: Constraint, **kw: Any) -> bool:
        asked.append(offer.id)
        return real(offer, constraint, **kw)

    monkeypatch.setattr(placement, "satisfies", counted)
    pinned = (Constraint(attribute="detector", value="TPC"),)
    offers = [
        offer(n, cpus=64, mem=65536, attrs={"detector": "TPC" if n in (3, 7) else "ITS"})
        for n in range(10)
    ]
    tasks = [task(f"t{i}", constraints=pinned, control="basic") for i in range(1000)]
    plan = place(tasks, offers, executor_id=EXECUTOR)
    assert len(plan.placed) == 2 * 127  # 64 cpus less the executor's, 0.5 each
    assert {p.offer_id for p in plan.placed} == {"o3", "o7"}
    assert len(asked) <= 2 * len(offers)


def test_alike_tasks_share_one_demand_so_a_take_works_it_out_once(monkeypatch: Any) -> None:
    """A take needs its demand in fixed point: worked out once per demand object, so tasks of
    one role share one object (10,000 launches worked it out twice each)."""
    from mesosapi import resources

    worked: list[Demand] = []
    real = resources.Demand.all_scalars

    def counted(d: Demand) -> list[tuple[str, float]]:
        worked.append(d)
        return real(d)

    monkeypatch.setattr(resources.Demand, "all_scalars", counted)
    alike = [task(f"t{i}") for i in range(20)]
    signatures = Signatures()
    demands = {id(signatures.of(t)[0]) for t in alike}
    assert len(demands) == 1
    plan = place(
        alike,
        [offer(1, cpus=64, mem=1e5, ports=(31000, 31999))],
        executor_id=EXECUTOR,
        signatures=signatures,
    )
    assert len(plan.placed) == 20
    assert len({p.allocation.ports[0] for p in plan.placed}) == 20
    assert len(worked) <= 3  # the task demand once, the executor's share once or twice


def test_alike_tasks_share_one_demand_and_each_counts_its_own_ports() -> None:
    """A deploy asks each task's demand twice (its shape, its placement): alike tasks get one
    shared Demand rather than building it each time, and what makes tasks differ (resources,
    wanted ports, tcp channels, the control port) still gives each its own."""
    from controller.tasks.placement import demand_with_ports
    from crds.kinds.channels import BindChannel

    def with_binds(t: Task, *binds: BindChannel) -> Task:
        return t.model_copy(update={"spec": t.spec.model_copy(update={"bind": binds})})

    first, second = task("a", ports=2), task("b", ports=2)
    assert demand_with_ports(first) is demand_with_ports(second)
    assert demand_with_ports(first) == Demand(cpus=0.5, mem=64.0, ports=2, floors=(30000,))
    tcp = BindChannel(name="out", type="push")
    fixed = BindChannel(name="fix", type="push", target="tcp://*:5555")
    ipc = BindChannel(name="ipc", type="push", addressing="ipc")
    assert demand_with_ports(with_binds(first, tcp, fixed, ipc, tcp)).floors == (
        9000,
        9000,
        30000,
    )
    assert demand_with_ports(task("c", ports=2, control="basic")).floors == ()
    assert demand_with_ports(task("d", memory=128)) == Demand(
        cpus=0.5, mem=128.0, ports=0, floors=(30000,)
    )
