"""Include roles in the environment controller (real etcd, task side simulated): an environment
waits for the Workflow it includes, and follows changes to it."""

from __future__ import annotations

from crds.kinds.environment import Environment
from crds.kinds.workflow import Workflow
from tests.environments.helpers import fresh, samples
from tests.environments.test_controller import Harness, harness  # noqa: F401
from tests.environments.test_expand import taskclass
from tests.environments.test_roleparts import task, wf
from tests.waiting import eventually


async def test_environment_waits_for_an_included_workflow_and_follows_its_changes(
    harness: Harness,  # noqa: F811 (the fixture imported above)
) -> None:
    h = harness
    h.start_controller()
    await h.store.create(taskclass("k", defaults={"x": "-"}, properties={"x": "{{ x }}"}))
    await h.store.create(wf("top", {"roles": [{"name": "q", "include": "sub"}]}))
    env, _, _ = samples()
    spec = env.spec.model_copy(update={"workflow": "top", "vars": {}})
    await h.store.create(fresh(env, name="inc-1").model_copy(update={"spec": spec}))

    def waits_for_sub() -> bool:
        seen = h.factory.informer(Environment).get("inc-1")
        return seen is not None and "include 'sub'" in seen.status.message

    await eventually(waits_for_sub, within=10)
    await h.store.create(wf("sub", {"defaults": {"x": "1"}, "roles": [task("t")]}))
    await h.wait_state("inc-1", "RUNNING")
    assert {n: t.spec.properties["x"] for n, t in h.tasks("inc-1").items()} == {"inc-1-q-t": "1"}

    sub = await h.store.get(Workflow, "sub")
    changed = {"defaults": {"x": "2"}, "roles": [task("t"), task("u")]}
    new_spec = sub.spec.model_validate({**sub.spec.model_dump(by_alias=True), **changed})
    await h.store.update(sub.model_copy(update={"spec": new_spec}))

    def follows() -> bool:
        props = {n: t.spec.properties.get("x") for n, t in h.tasks("inc-1").items()}
        return props == {"inc-1-q-t": "2", "inc-1-q-u": "2"}

    await eventually(follows, within=15)
