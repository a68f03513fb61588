"""JSON bodies of the scheduler calls o2 sends in bulk (RECONCILE of every known task, MESSAGE
with a large payload), written straight from their ids and bytes: byte for byte
`mesosapi.scheduler.encode_call_json` of the call's model, without building one model per task
(a periodic reconcile at 50,000 tasks built 50,000 ReconcileTask models) and without copying a
message's bytes into a model to serialize them back. Pure."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

from mesosapi.models import AgentId, ExecutorId, FrameworkId, TaskId

_TEXT = json.JSONEncoder(ensure_ascii=False).encode
"""A JSON string as pydantic-core writes it: UTF-8 as is, `"`, `\\` and controls escaped."""


def _head(kind: str, framework_id: FrameworkId | None) -> str:
    head = f'{{"type": "{kind}"'
    if framework_id:
        head += f', "framework_id": {{"value": {json.dumps(framework_id)}}}'
    return head


def encode_reconcile(
    tasks: Iterable[tuple[TaskId, AgentId | None]], *, framework_id: FrameworkId | None
) -> bytes:
    """RECONCILE of the (task, agent) pairs: explicit, or implicit when there are none."""
    text = _TEXT
    items = [
        f'{{"task_id":{{"value":{text(t)}}},"agent_id":{{"value":{text(a)}}}}}'
        if a is not None
        else f'{{"task_id":{{"value":{text(t)}}}}}'
        for t, a in tasks
    ]
    body = f'{_head("RECONCILE", framework_id)}, "reconcile": {{"tasks":[{",".join(items)}]}}}}'
    return body.encode()


def encode_message(
    agent_id: AgentId, executor_id: ExecutorId, data: bytes, *, framework_id: FrameworkId | None
) -> bytes:
    """MESSAGE of `data` (base64 on the wire) to one executor."""
    head = (
        f'{_head("MESSAGE", framework_id)}, "message": {{"agent_id":{{"value":{_TEXT(agent_id)}}},'
        f'"executor_id":{{"value":{_TEXT(executor_id)}}},"data":"'
    )
    return b'%s%s"}}' % (head.encode(), base64.b64encode(data))
