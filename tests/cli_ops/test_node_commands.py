"""`o2 cordon|uncordon|drain` and `o2 node mode` write Node spec in real etcd."""

from __future__ import annotations

from crds.errors import NotFoundError
from crds.kinds.node import Node
from crds.kinds.task import Task
from store.api import Store
from tests.cli.conftest import O2
from tests.cli_ops.conftest import node_obj, put, run_o2, task_obj


async def test_cordon_and_uncordon_flip_spec_unschedulable(o2: O2, etcd_store: Store) -> None:
    await put(etcd_store, node_obj("flp-1"))
    result = await run_o2(o2, "cordon", "flp-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "node/flp-1 cordoned\n"
    assert (await etcd_store.get(Node, "flp-1")).spec.unschedulable is True
    again = await run_o2(o2, "cordon", "flp-1")
    assert again.stdout == "node/flp-1 already cordoned\n"
    result = await run_o2(o2, "uncordon", "flp-1")
    assert result.exit_code == 0, result.stderr
    assert (await etcd_store.get(Node, "flp-1")).spec.unschedulable is False


async def test_node_mode_sets_spec_mode_and_rejects_other_values(o2: O2, etcd_store: Store) -> None:
    await put(etcd_store, node_obj("epn-1"))
    result = await run_o2(o2, "node", "mode", "epn-1", "async")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "node/epn-1 mode sync -> async\n"
    node = await etcd_store.get(Node, "epn-1")
    assert node.spec.mode == "async"
    assert node.status.hostname == "epn-1"  # status untouched
    bad = await run_o2(o2, "node", "mode", "epn-1", "fast")
    assert bad.exit_code == 2
    assert (await etcd_store.get(Node, "epn-1")).spec.mode == "async"


async def test_cordon_of_a_missing_node_is_an_error(o2: O2) -> None:
    result = await run_o2(o2, "cordon", "nope")
    assert result.exit_code == 1
    assert "node/nope not found" in result.stderr


async def test_drain_cordons_lists_tasks_and_deletes_only_standalone_ones(
    o2: O2, etcd_store: Store
) -> None:
    await put(etcd_store, node_obj("flp-1", agentId="agent-1"))
    here = {"agentId": "agent-1", "hostname": "flp-1"}
    await put(etcd_store, task_obj("env-task", env="physics-1", **here))
    await put(etcd_store, task_obj("lonely", env=None, **here))
    await put(etcd_store, task_obj("elsewhere", env=None, agentId="agent-2", hostname="flp-2"))
    listed = await run_o2(o2, "drain", "flp-1")
    assert listed.exit_code == 0, listed.stderr
    assert "left to environment/physics-1" in listed.stdout
    assert "pass --delete-standalone" in listed.stdout
    assert "elsewhere" not in listed.stdout
    assert (await etcd_store.get(Node, "flp-1")).spec.unschedulable is True
    await etcd_store.get(Task, "lonely")  # not deleted without the flag

    result = await run_o2(o2, "drain", "flp-1", "--delete-standalone")
    assert result.exit_code == 0, result.stderr
    assert "task/lonely deleted" in result.stdout
    try:
        await etcd_store.get(Task, "lonely")
    except NotFoundError:
        pass
    else:
        raise AssertionError("the standalone task was not deleted")
    await etcd_store.get(Task, "env-task")
    await etcd_store.get(Task, "elsewhere")
