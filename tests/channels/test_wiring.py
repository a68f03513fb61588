"""Wiring: the `chans.*` properties from the placed tasks' addresses, and who must wait."""

from __future__ import annotations

from cli.describe_printers import channel_rows
from controller.environments.expand import expand
from controller.environments.expansion import Expansion
from controller.environments.taskset import TaskSet
from controller.environments.wiring import wire
from crds.kinds.environment import Environment
from crds.kinds.task import Task, TaskSpec, TaskStatus
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


def detectors_workflow() -> list[dict[str, object]]:
    return [
        {
            "name": "flp-{{ det }}",
            "for": {"range": "{{ detectors }}", "var": "det"},
            "roles": [
                {"name": "readout", "task": {"class": "readout"}},
                {
                    "name": "stfb",
                    "task": {"class": "stfb"},
                    "connect": [
                        {"name": "readout", "type": "pull",
                         "target": "{{ parent_role_path }}.readout:readout"}
                    ],
                },
            ],
        }
    ]  # fmt: skip


def with_detectors(detectors: str) -> Environment:
    base = env()
    return base.model_copy(
        update={"spec": base.spec.model_copy(update={"vars": {"detectors": detectors}})}
    )


def as_running(task: Task, spec: TaskSpec) -> Task:
    """`task` configured with `spec` and RUNNING."""
    return task.model_copy(
        update={
            "spec": spec.model_copy(update={"state": "RUNNING"}),
            "status": task.status.model_copy(update={"state": "RUNNING"}),
        }
    )


def test_a_detector_added_while_running_is_wired_without_touching_running_tasks() -> None:
    one = env().model_copy(
        update={"spec": env().spec.model_copy(update={"vars": {"detectors": "TPC"}})}
    )
    two = one.model_copy(
        update={"spec": one.spec.model_copy(update={"vars": {"detectors": "TPC,ITS"}})}
    )
    before = expand(one, workflow(detectors_workflow()), CLASSES, run_number=None)
    running = []
    for path, channels in (("flp-TPC.readout", {"readout": "tcp://a:9000"}),
                           ("flp-TPC.stfb", {"out": "ipc://@o2ipc-1"})):  # fmt: skip
        task = placed(before, path, channels)
        running.append(task)
    wired = wire(before, "e1", running)
    running = [as_running(t, wired.tasks[t.name].spec) for t in running]
    after = expand(two, workflow(detectors_workflow()), CLASSES, run_number=None)
    changes = TaskSet(two, wire(after, "e1", running), running).changes(
        target="RUNNING", cap=False, reconfigure_now=True
    )
    assert changes.update == [] and changes.delete == []  # the running tasks: untouched
    assert {t.spec.role: t.spec.state for t in changes.create} == {
        "flp-ITS.readout": "STANDBY",
        "flp-ITS.stfb": "STANDBY",
    }
    new = [placed(after, "flp-ITS.readout", {"readout": "tcp://b:9000"}),
           placed(after, "flp-ITS.stfb", {"out": "ipc://@o2ipc-2"})]  # fmt: skip
    changes = TaskSet(two, wire(after, "e1", [*running, *new]), [*running, *new]).changes(
        target="RUNNING", cap=False, reconfigure_now=True
    )
    states = {t.spec.role: t.spec.state for t in changes.update}
    assert states == {"flp-ITS.readout": "RUNNING", "flp-ITS.stfb": "RUNNING"}
    its_stfb = next(t for t in changes.update if t.spec.role == "flp-ITS.stfb")
    assert its_stfb.spec.properties["chans.readout.0.address"] == "tcp://b:9000"


def test_describe_env_lists_the_channel_graph() -> None:
    exp = expansion()
    tasks = [
        placed(exp, "flp.readout", {"readout": "tcp://host-a:9001"}),
        placed(exp, "flp.stfb", {"out": "ipc://@o2ipc-abc"}),
        placed(exp, "flp.stfs", {}),
    ]
    assert channel_rows(tasks) == [
        ["flp.stfb:readout", "flp.readout:readout", "pull", "tcp://host-a:9001"],
        ["flp.stfs:in", "::stf", "pull", "ipc://@o2ipc-abc"],
    ]


def test_unchanged_addresses_reuse_the_wired_task_and_a_moved_peer_rewires() -> None:
    exp = expansion()
    tasks = [
        placed(exp, "flp.readout", {"readout": "tcp://host-a:9001"}),
        placed(exp, "flp.stfb", {"out": "ipc://@o2ipc-abc"}),
    ]
    first = wire(exp, "e1", tasks).tasks["e1-flp-stfb"]
    assert wire(exp, "e1", tasks).tasks["e1-flp-stfb"] is first
    moved = [placed(exp, "flp.readout", {"readout": "tcp://host-b:9002"}), tasks[1]]
    again = wire(exp, "e1", moved).tasks["e1-flp-stfb"]
    assert again.spec.properties["chans.readout.0.address"] == "tcp://host-b:9002"
