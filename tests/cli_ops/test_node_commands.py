"""`o2 cordon|uncordon|drain` and `o2 node mode` write Node spec in real etcd (in-process CLI)."""

from __future__ import annotations

import pytest

from crds.errors import NotFoundError
from crds.kinds.node import Node
from crds.kinds.task import Task
from tests.cli.conftest import O2
from tests.cli_ops.conftest import fetch, node_obj, seed, task_obj


def test_cordon_and_uncordon_flip_spec_unschedulable(o2_sync: O2) -> None:
    o2 = o2_sync
    seed(o2, node_obj("flp-1"))
    result = o2("cordon", "flp-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "node/flp-1 cordoned\n"
    assert fetch(o2, Node, "flp-1").spec.unschedulable is True
    assert o2("cordon", "flp-1").stdout == "node/flp-1 already cordoned\n"
    result = o2("uncordon", "flp-1")
    assert result.exit_code == 0, result.stderr
    assert fetch(o2, Node, "flp-1").spec.unschedulable is False


def test_node_mode_sets_spec_mode_and_rejects_other_values(o2_sync: O2) -> None:
    o2 = o2_sync
    seed(o2, node_obj("epn-1"))
    result = o2("node", "mode", "epn-1", "async")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "node/epn-1 mode sync -> async\n"
    node = fetch(o2, Node, "epn-1")
    assert node.spec.mode == "async"
    assert node.status.hostname == "epn-1"  # status untouched
    bad = o2("node", "mode", "epn-1", "fast")
    assert bad.exit_code == 2
    assert fetch(o2, Node, "epn-1").spec.mode == "async"


def test_cordon_of_a_missing_node_is_an_error(o2_sync: O2) -> None:
    result = o2_sync("cordon", "nope")
    assert result.exit_code == 1
    assert "node/nope not found" in result.stderr


def test_drain_cordons_lists_tasks_and_deletes_only_standalone_ones(o2_sync: O2) -> None:
    o2 = o2_sync
    here = {"agentId": "agent-1", "hostname": "flp-1"}
    seed(
        o2,
        node_obj("flp-1", agentId="agent-1"),
        task_obj("env-task", env="physics-1", **here),
        task_obj("lonely", env=None, **here),
        task_obj("elsewhere", env=None, agentId="agent-2", hostname="flp-2"),
    )
    listed = o2("drain", "flp-1")
    assert listed.exit_code == 0, listed.stderr
    assert "left to environment/physics-1" in listed.stdout
    assert "pass --delete-standalone" in listed.stdout
    assert "elsewhere" not in listed.stdout
    assert fetch(o2, Node, "flp-1").spec.unschedulable is True
    fetch(o2, Task, "lonely")  # not deleted without the flag

    result = o2("drain", "flp-1", "--delete-standalone")
    assert result.exit_code == 0, result.stderr
    assert "task/lonely deleted" in result.stdout
    with pytest.raises(NotFoundError):
        fetch(o2, Task, "lonely")
    fetch(o2, Task, "env-task")
    fetch(o2, Task, "elsewhere")
