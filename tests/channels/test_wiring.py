"""Wiring: the `chans.*` properties from the placed tasks' addresses, and who must wait."""

from __future__ import annotations

from controller.environments.expand import Expansion, expand
from controller.environments.taskset import TaskSet
from controller.environments.wiring import wire
from crds.kinds.task import Task, TaskStatus
from crds.meta import ObjectMeta
from tests.channels.test_expansion import CLASSES, env, flp, workflow


def expansion() -> Expansion:
    roles = [flp()]
    roles[0]["roles"][1]["bind"] = [{"name": "out", "type": "push", "addressing": "ipc",
                                     "global": "stf", "transport": "zeromq"}]  # fmt: skip
    return expand(env(), workflow(roles), CLASSES, run_number=None)


def placed(exp: Expansion, path: str, channels: dict[str, str], state: str = "STANDBY") -> Task:
    want = next(t for t in exp.tasks.values() if t.path == path)
    status = TaskStatus(phase="Running", state=state, hostname="h", channels=channels)
    return Task(metadata=ObjectMeta(name=want.name), spec=want.spec, status=status)


def test_bind_and_connect_sides_get_the_fairmq_keys_aliecs_pushes() -> None:
    exp = expansion()
    tasks = [
        placed(exp, "flp.readout", {"readout": "tcp://host-a:9001"}),
        placed(exp, "flp.stfb", {"out": "ipc://@o2ipc-abc"}),
        placed(exp, "flp.stfs", {}),
    ]
    wired = {t.path: t for t in wire(exp, "e1", tasks).tasks.values()}
    readout = wired["flp.readout"].spec.properties
    assert {k: v for k, v in readout.items() if k.startswith("chans.")} == {
        "chans.readout.numSockets": "1",
        "chans.readout.0.address": "tcp://*:9001",
        "chans.readout.0.method": "bind",
        "chans.readout.0.autoBind": "0",
        "chans.readout.0.type": "push",
        "chans.readout.0.transport": "default",
        "chans.readout.0.sndBufSize": "500",
        "chans.readout.0.rcvBufSize": "1000",
        "chans.readout.0.sndKernelSize": "0",
        "chans.readout.0.rcvKernelSize": "0",
        "chans.readout.0.rateLogging": "0",
    }
    stfb = wired["flp.stfb"].spec.properties
    assert stfb["chans.readout.0.address"] == "tcp://host-a:9001"  # the bind side's host:port
    assert stfb["chans.readout.0.method"] == "connect" and "chans.readout.0.autoBind" not in stfb
    assert stfb["chans.out.0.address"] == "ipc://@o2ipc-abc"
    stfs = wired["flp.stfs"].spec.properties
    assert stfs["chans.in.0.address"] == "ipc://@o2ipc-abc"  # through the global alias
    assert stfs["chans.in.0.transport"] == "zeromq"  # the peer's transport, as AliECS
    assert not any(t.unwired for t in wired.values())


def test_a_task_whose_peer_is_not_placed_waits_in_standby_and_says_why() -> None:
    exp = expansion()
    tasks = [placed(exp, "flp.stfb", {"out": "ipc://@o2ipc-abc"})]
    wired = wire(exp, "e1", tasks)
    stfb = next(t for t in wired.tasks.values() if t.path == "flp.stfb")
    assert stfb.unwired == "channel readout: its peer flp.readout:readout is not placed yet"
    taskset = TaskSet(env(), wired, tasks)
    changes = taskset.changes(target="CONFIGURED", cap=False, reconfigure_now=True)
    states = {t.spec.role: t.spec.state for t in [*changes.create, *changes.update]}
    assert states.get("flp.stfb", "STANDBY") == "STANDBY"  # held back (no write at all)
    assert states["flp.readout"] == "STANDBY"  # not placed: its own address is not known
    assert any("flp-stfb: channel readout" in why for why in taskset.unwired())


def test_a_configured_task_keeps_its_channels_while_a_peer_is_replaced() -> None:
    exp = expansion()
    first = [
        placed(exp, "flp.readout", {"readout": "tcp://host-a:9001"}),
        placed(exp, "flp.stfb", {"out": "ipc://@o2ipc-abc"}),
    ]
    configured = wire(exp, "e1", first)
    stfb_want = next(t for t in configured.tasks.values() if t.path == "flp.stfb")
    running = placed(exp, "flp.stfb", {"out": "ipc://@o2ipc-abc"}, state="RUNNING")
    running = running.model_copy(update={"spec": stfb_want.spec})
    later = wire(exp, "e1", [running])  # readout gone: not placed
    again = next(t for t in later.tasks.values() if t.path == "flp.stfb")
    assert again.unwired == "" and again.spec.properties == stfb_want.spec.properties


def test_an_expansion_without_channels_is_returned_as_is() -> None:
    exp = expand(env(), workflow([{"name": "a", "task": {"class": "stfs"}}]), CLASSES,
                 run_number=None)  # fmt: skip
    assert wire(exp, "e1", []) is exp
