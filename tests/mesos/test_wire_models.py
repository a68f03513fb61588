"""Wire shapes: the proto nesting, ids, base64, calls and events of both APIs."""

from __future__ import annotations

import base64
import json
import uuid

import pydantic
import pytest

from mesosapi import executor as ex
from mesosapi import scheduler as sch
from mesosapi.models import (
    AgentId,
    CommandInfo,
    Environment,
    ExecutorId,
    ExecutorInfo,
    Filters,
    FrameworkId,
    OfferId,
    Operation,
    TaskId,
    TaskInfo,
    TaskStatus,
)
from mesosapi.recordio import RecordIODecoder, encode
from mesosapi.resources import scalar

OFFERS_RECORD = {
    "type": "OFFERS",
    "offers": {
        "offers": [
            {
                "id": {"value": "m-O7"},
                "framework_id": {"value": "m-0000"},
                "agent_id": {"value": "m-S0"},
                "hostname": "agent1",
                "url": {"scheme": "http", "address": {"ip": "127.0.0.1", "port": 5051}},
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}, "role": "*"},
                    {
                        "name": "ports",
                        "type": "RANGES",
                        "ranges": {"range": [{"begin": 31000, "end": 32000}]},
                    },
                ],
                "attributes": [
                    {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
                    {"name": "cores", "type": "SCALAR", "scalar": {"value": 4}},
                ],
                "executor_ids": [{"value": "o2-exec"}],
            }
        ]
    },
}


def test_offers_event_decodes_the_proto_nesting_and_flattens_ids() -> None:
    event = sch.decode_event(OFFERS_RECORD)
    assert isinstance(event, sch.Offers)
    (offer,) = event.offers
    assert offer.id == "m-O7" and offer.agent_id == "m-S0"
    assert offer.executor_ids == ["o2-exec"]
    assert offer.attribute("rack") == "r1" and offer.attribute("cores") == "4"
    assert offer.attribute("missing") is None


def test_error_event_reads_the_nested_message() -> None:
    event = sch.decode_event({"type": "ERROR", "error": {"message": "Framework has been removed"}})
    assert isinstance(event, sch.Error)
    assert event.message == "Framework has been removed"


def test_unknown_event_type_is_kept_not_raised() -> None:
    event = sch.decode_event({"type": "INVERSE_OFFERS", "inverse_offers": {}})
    assert isinstance(event, sch.UnknownEvent) and event.type == "INVERSE_OFFERS"


def test_update_event_decodes_uuid_and_data_as_bytes() -> None:
    raw = uuid.uuid4().bytes
    record = {
        "type": "UPDATE",
        "update": {
            "status": {
                "task_id": {"value": "t1"},
                "state": "TASK_RUNNING",
                "source": "SOURCE_EXECUTOR",
                "agent_id": {"value": "m-S0"},
                "uuid": base64.b64encode(raw).decode(),
                "data": base64.b64encode(b"pid=42").decode(),
                "container_status": {"executor_pid": 1234},
            }
        },
    }
    event = sch.decode_event(record)
    assert isinstance(event, sch.Update)
    assert event.status.uuid == raw and event.status.data == b"pid=42"
    assert not event.status.terminal


def test_malformed_update_is_a_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError):
        sch.decode_event({"type": "UPDATE", "update": {"status": {"state": "TASK_RUNNING"}}})


def test_accept_with_many_launches_encodes_to_the_mesos_shape() -> None:
    executor = ExecutorInfo(
        executor_id=ExecutorId("o2-exec"),
        type="CUSTOM",
        command=CommandInfo(
            value="/usr/bin/o2-executor",
            arguments=["o2-executor", "--x"],
            shell=False,
            environment=Environment.of({"A": "1"}),
        ),
        resources=[scalar("cpus", 0.1), scalar("mem", 32)],
    )
    tasks = [
        TaskInfo(
            name=f"t{i}",
            task_id=TaskId(f"t{i}"),
            agent_id=AgentId("m-S0"),
            resources=[scalar("cpus", 0.5)],
            executor=executor,
            data=b"\x00\x01",
        )
        for i in range(3)
    ]
    call = sch.Accept(offer_ids=[OfferId("m-O1")], operations=[Operation.of_launch(tasks)])
    body = sch.encode_call(call, framework_id=FrameworkId("m-0000"))
    assert body["type"] == "ACCEPT" and body["framework_id"] == {"value": "m-0000"}
    accept = body["accept"]
    assert isinstance(accept, dict)
    assert accept["offer_ids"] == [{"value": "m-O1"}]
    (op,) = accept["operations"]
    infos = op["launch"]["task_infos"]
    assert len(infos) == 3
    assert infos[0]["task_id"] == {"value": "t0"}
    assert infos[0]["data"] == "AAE="
    assert infos[0]["executor"]["command"] == {
        "value": "/usr/bin/o2-executor",
        "arguments": ["o2-executor", "--x"],
        "shell": False,
        "environment": {"variables": [{"name": "A", "value": "1"}]},
    }
    assert infos[0]["resources"] == [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}]


def _some_calls() -> list[sch.SchedulerCall]:
    return [
        sch.Decline(offer_ids=[OfferId("o")], filters=None),
        sch.Revive(roles=["o2"]),
        sch.Suppress(),
        sch.Kill(task_id=TaskId("t"), agent_id=AgentId("a")),
        sch.Acknowledge(agent_id=AgentId("a"), task_id=TaskId("t"), uuid=b"0123456789abcdef"),
        sch.Reconcile(tasks=[sch.ReconcileTask(task_id=TaskId("t"))]),
        sch.MessageCall(agent_id=AgentId("a"), executor_id=ExecutorId("e"), data=b"hi"),
        sch.Teardown(),
    ]


def test_scheduler_calls_round_trip_through_decode_call() -> None:
    for call in _some_calls():
        fid, back = sch.decode_call(sch.encode_call(call, framework_id=FrameworkId("f")))
        assert fid == "f" and back == call


def test_call_json_bytes_are_the_same_json_value_as_the_dict_encoding() -> None:
    """The wire bytes (pydantic-serialized) carry exactly what `encode_call` says, for every
    call, an ACCEPT of launches with bytes and unicode, with and without a framework id."""
    info = sch.framework_info("o2-é", user="root", roles=["o2"], failover_timeout=60)
    task = TaskInfo(
        name="tâche",
        task_id=TaskId('t"1'),
        agent_id=AgentId("a"),
        resources=[scalar("cpus", 0.25)],
        command=CommandInfo(value="/bin/true", shell=False, arguments=["true"]),
        data=b"\x00\xff",
    )
    launch = sch.Accept(
        offer_ids=[OfferId("o")],
        operations=[Operation.of_launch([task])],
        filters=Filters(refuse_seconds=5),
    )
    for call in [*_some_calls(), launch, sch.Subscribe(framework_info=info)]:
        for fid in (FrameworkId("f"), None):
            wire = sch.encode_call_json(call, framework_id=fid)
            assert json.loads(wire) == sch.encode_call(call, framework_id=fid), call.TYPE


def test_teardown_and_first_subscribe_have_the_right_envelope() -> None:
    assert sch.encode_call(sch.Teardown(), framework_id=FrameworkId("f")) == {
        "type": "TEARDOWN",
        "framework_id": {"value": "f"},
    }
    info = sch.framework_info("o2", user="root", roles=["o2"], failover_timeout=60)
    body = sch.encode_call(sch.Subscribe(framework_info=info), framework_id=None)
    assert "framework_id" not in body
    caps = body["subscribe"]["framework_info"]["capabilities"]  # type: ignore[index]
    assert {"type": "PARTITION_AWARE"} in caps and {"type": "MULTI_ROLE"} in caps


def test_scheduler_events_round_trip_through_encode_event() -> None:
    events: list[sch.SchedulerEvent] = [
        sch.Subscribed(framework_id=FrameworkId("f"), heartbeat_interval_seconds=15.0),
        sch.Rescind(offer_id=OfferId("o")),
        sch.Message(agent_id=AgentId("a"), executor_id=ExecutorId("e"), data=b"x"),
        sch.Failure(agent_id=AgentId("a")),
        sch.Error(message="boom"),
        sch.Heartbeat(),
    ]
    for event in events:
        assert sch.decode_event(sch.encode_event(event)) == event


def test_executor_subscribe_carries_unacknowledged_updates_as_update_objects() -> None:
    status = TaskStatus(task_id=TaskId("t"), state="TASK_RUNNING", uuid=b"u" * 16)
    call = ex.SubscribeCall(unacknowledged_updates=[ex.UpdateCall(status=status)])
    body = ex.encode_call(call, framework_id=FrameworkId("f"), executor_id=ExecutorId("e"))
    assert body["executor_id"] == {"value": "e"}
    updates = body["subscribe"]["unacknowledged_updates"]  # type: ignore[index]
    assert updates[0]["status"]["uuid"] == base64.b64encode(b"u" * 16).decode()
    fid, eid, back = ex.decode_call(body)
    assert (fid, eid, back) == ("f", "e", call)


def test_executor_events_decode_by_type() -> None:
    assert isinstance(ex.decode_event({"type": "SHUTDOWN"}), ex.Shutdown)
    kill = ex.decode_event({"type": "KILL", "kill": {"task_id": {"value": "t"}}})
    assert isinstance(kill, ex.Kill) and kill.task_id == "t"
    ack = ex.decode_event(
        {
            "type": "ACKNOWLEDGED",
            "acknowledged": {
                "task_id": {"value": "t"},
                "uuid": base64.b64encode(b"k" * 16).decode(),
            },
        }
    )
    assert isinstance(ack, ex.Acknowledged) and ack.uuid == b"k" * 16
    msg = ex.decode_event({"type": "MESSAGE", "message": {"data": "aGk="}})
    assert isinstance(msg, ex.Message) and msg.data == b"hi"


def test_recordio_frames_split_anywhere_decode_to_the_same_events() -> None:
    stream = encode(OFFERS_RECORD) + encode({"type": "HEARTBEAT"})
    for cut in range(1, len(stream)):
        decoder = RecordIODecoder()
        records = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert [sch.decode_event(r).TYPE for r in records] == ["OFFERS", "HEARTBEAT"]


@pytest.mark.parametrize(
    ("location", "leader"),
    [
        ("//10.0.0.2:5050/master/api/v1/scheduler", "10.0.0.2:5050"),
        ("http://m2:5050/api/v1/scheduler", "m2:5050"),
        ("/api/v1/scheduler", "m1:5050"),
        ("", "m1:5050"),
    ],
)
def test_leader_redirect_location_names_the_new_master(location: str, leader: str) -> None:
    from controller.mesos.client import leader_from_location

    assert leader_from_location(location, "m1:5050") == leader


@pytest.mark.parametrize("framework_id", [None, FrameworkId('fw-"1"-é')])
def test_acknowledge_bytes_equal_the_dumped_model_call(framework_id: FrameworkId | None) -> None:
    """The model-free ACK body is the same JSON, to the byte, even for ids that need escaping."""
    agent, task, raw = 'agent\\"ü', "task-\n1", uuid.uuid4().bytes
    ack = sch.Acknowledge(agent_id=AgentId(agent), task_id=TaskId(task), uuid=raw)
    model = json.dumps(sch.encode_call(ack, framework_id=framework_id)).encode()
    assert sch.encode_acknowledge(agent, task, raw, framework_id=framework_id) == model
