"""Ports as AliECS takes them from an offer: a port >= 9000 per tcp inbound channel, then the
OCC control port >= 30000 (the lowest free one when the offer has none that high)."""

from __future__ import annotations

from controller.tasks.placement import place
from crds.fairmq import bound_addresses, parse_channels
from crds.kinds.channels import BindChannel
from crds.kinds.common import Command, Wants
from crds.kinds.task import Task, TaskSpec
from crds.meta import ObjectMeta
from mesosapi.models import AgentId, FrameworkId, Offer, OfferId
from mesosapi.resources import ranges, scalar

EXECUTOR = "o2-executor"


def offer(*spans: tuple[int, int]) -> Offer:
    return Offer(
        id=OfferId("o1"),
        framework_id=FrameworkId("fw"),
        agent_id=AgentId("a1"),
        hostname="host-1",
        resources=[scalar("cpus", 4), scalar("mem", 1024), ranges("ports", list(spans))],
    )


BINDS = (
    BindChannel(name="a", type="push"),
    BindChannel(name="b", type="pull", addressing="ipc"),
    BindChannel(name="c", type="pub"),
    BindChannel(name="d", type="push", target="tcp://*:7777"),
)


def task(*, ports: int = 0, bind: tuple[BindChannel, ...] = ()) -> Task:
    spec = TaskSpec(
        task_class="readout",
        command=Command(value="/bin/true"),
        control="direct",
        wants=Wants(cpus=0.5, memory=64, ports=ports),
        bind=bind,
    )
    return Task(metadata=ObjectMeta(name="t"), spec=spec)


def test_the_control_port_is_the_lowest_free_one_from_30000() -> None:
    plan = place([task(ports=1)], [offer((8000, 8010), (30500, 30510))], executor_id=EXECUTOR)
    assert plan.placed[0].allocation.ports == [8000, 30500]  # wanted, then control


def test_each_tcp_inbound_channel_takes_the_lowest_free_port_from_9000() -> None:
    plan = place(
        [task(ports=1, bind=BINDS)], [offer((8990, 9001), (31000, 31010))], executor_id=EXECUTOR
    )
    # wanted 8990, channels a and c (b is ipc, d has a fixed address), then the control port
    assert plan.placed[0].allocation.ports == [8990, 9000, 9001, 31000]


def test_offers_without_high_ports_give_the_lowest_free_ones() -> None:
    plan = place([task(bind=BINDS)], [offer((20000, 20010))], executor_id=EXECUTOR)
    assert plan.placed[0].allocation.ports == [20000, 20001, 20002]


def test_too_few_ports_for_the_channels_is_said_plainly() -> None:
    plan = place([task(bind=BINDS)], [offer((20000, 20001))], executor_id=EXECUTOR)
    assert plan.unplaced == {"t": "insufficient ports: wants 3, largest free 2"}


def test_bound_addresses_use_the_hostname_ports_and_a_per_launch_ipc_name() -> None:
    first = bound_addresses(BINDS, hostname="h", ports=[9000, 9001], launch_id="env-t.1")
    assert first["a"] == "tcp://h:9000" and first["c"] == "tcp://h:9001"
    assert first["d"] == "tcp://h:7777"
    assert first["b"].startswith("ipc://@o2ipc-")
    second = bound_addresses(BINDS, hostname="h", ports=[9000, 9001], launch_id="env-t.2")
    assert second["b"] != first["b"]


def test_the_sdk_reads_the_pushed_channels_back() -> None:
    props = {
        "chans.data.numSockets": "1",
        "chans.data.0.address": "tcp://h:9000",
        "chans.data.0.method": "connect",
        "chans.data.0.type": "pull",
        "chans.data.0.sndBufSize": "10",
        "chans.data.0.rateLogging": "x",
        "chans.half.0.type": "push",
        "other": "1",
    }
    (channel,) = parse_channels(props)
    assert (channel.name, channel.type, channel.method, channel.address) == (
        "data", "pull", "connect", "tcp://h:9000",
    )  # fmt: skip
    assert (channel.snd_buf_size, channel.rcv_buf_size, channel.rate_logging) == (10, 1000, 0)
