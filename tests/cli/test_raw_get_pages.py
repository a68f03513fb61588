"""`o2 get` over a long listing (cli.rawget): read through etcd's gateway in pages of
cli.etcdgateway.PAGE keys, every page at the first page's revision, and printed as the full
path prints it. One answer with every document took etcd's gateway seconds at 50,000 Tasks,
past the raw path's timeout, and the full path then validated every Task as a model."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import cli.plainhttp
from cli import etcdgateway
from cli.entry import raw_read
from hack.bench.store_bench import make_task
from store import codec
from tests.cli.conftest import O2

TASKS = 25
PAGE = 10
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def gateway_put(o2: O2, key: str, value: str) -> None:
    """A put through etcd's JSON gateway: quicker than one etcdctl process per key."""
    body = json.dumps({"key": b64(key), "value": b64(value)}).encode()
    request = urllib.request.Request(f"{o2.endpoint}/v3/kv/put", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def task_doc(i: int) -> dict[str, Any]:
    task = codec.prepare_create(make_task(i), now=NOW - timedelta(minutes=i))
    doc: dict[str, Any] = json.loads(codec.encode(task))
    return doc


Post = Callable[..., tuple[int, bytes]]
Call = tuple[dict[str, Any], dict[str, Any]]


@dataclass
class Ranges:
    """Every range request the gateway client sent, with etcd's answer; `after_answer` runs
    once each answer is in (before the client reads it)."""

    calls: list[Call] = field(default_factory=list)
    after_answer: Callable[[], None] = lambda: None


@pytest.fixture
def ranges(monkeypatch: pytest.MonkeyPatch) -> Ranges:
    """Pages of PAGE keys, each range request recorded."""
    seen = Ranges()
    real: Post = cli.plainhttp.post

    def recording(host: str, port: int, path: str, body: bytes, *a: Any, **k: Any) -> Any:
        status, raw = real(host, port, path, body, *a, **k)
        if path == "/v3/kv/range":
            seen.calls.append((json.loads(body), json.loads(raw)))
            seen.after_answer()
        return status, raw

    monkeypatch.setattr(cli.plainhttp, "post", recording)
    monkeypatch.setattr(etcdgateway, "PAGE", PAGE, raising=False)
    return seen


def seed(o2: O2, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    docs = [task_doc(i) for i in range(TASKS)]
    for doc in docs:
        gateway_put(o2, o2.key("tasks", doc["metadata"]["name"]), json.dumps(doc))
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    return docs


def test_a_long_listing_is_read_in_pages_at_one_revision_and_printed_as_the_full_path_does(
    o2: O2, ranges: Ranges, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(o2, monkeypatch)
    full = o2("get", "tasks", "-o", "wide")
    assert len(full.stdout.splitlines()) == TASKS + 1

    assert raw_read(["get", "tasks", "-o", "wide"]) == 0
    served = capsys.readouterr()
    assert (served.out, served.err) == (full.stdout, full.stderr)
    pages = [len(answer.get("kvs", [])) for _, answer in ranges.calls]
    assert pages == [PAGE, PAGE, TASKS - 2 * PAGE]
    first_revision = int(ranges.calls[0][1]["header"]["revision"])
    assert [request.get("revision") for request, _ in ranges.calls[1:]] == [first_revision] * 2


def test_a_write_between_pages_is_not_seen_the_listing_is_one_revision(
    o2: O2, ranges: Ranges, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    last = seed(o2, monkeypatch)[-1]
    key = o2.key("tasks", last["metadata"]["name"])
    failed = {**last, "status": {**last["status"], "phase": "Failed"}}

    def fail_the_last_task_after_the_first_page() -> None:
        if len(ranges.calls) == 1:  # the last task is on the third page
            gateway_put(o2, key, json.dumps(failed))

    ranges.after_answer = fail_the_last_task_after_the_first_page
    assert raw_read(["get", "tasks"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == TASKS + 1 and len(ranges.calls) == 3
    assert "Running" in printed[-1] and "Failed" not in printed[-1]
    assert "Failed" in o2("get", "tasks", last["metadata"]["name"]).stdout
