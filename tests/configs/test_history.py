"""Version bookkeeping stays bounded in count and in bytes."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.configs.controller import plan_status
from crds.kinds.componentconfig import HISTORY_LIMIT, ComponentConfig
from tests.configs.factories import cc

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def edited(obj: ComponentConfig, data: str) -> ComponentConfig:
    obj = obj.model_copy(update={"spec": obj.spec.model_copy(update={"data": data})})
    status, _ = plan_status(obj, now=NOW)
    return obj.model_copy(update={"status": status})


def test_history_keeps_the_last_twenty_versions() -> None:
    obj = cc("c")
    for i in range(1, 26):
        obj = edited(obj, f"v{i}")
    assert obj.status.version == 25
    assert [v.version for v in obj.status.history] == list(range(26 - HISTORY_LIMIT, 26))


def test_history_of_large_payloads_is_cut_by_size_but_keeps_the_current() -> None:
    obj = cc("c")
    for i in range(1, 6):
        obj = edited(obj, str(i) * 200_000)
    assert [v.version for v in obj.status.history] == [3, 4, 5]
    obj = edited(obj, "x" * 900_000)
    assert [v.version for v in obj.status.history] == [4, 5, 6]
    assert len(obj.to_wire()["status"]["history"][-1]["data"]) == 900_000
