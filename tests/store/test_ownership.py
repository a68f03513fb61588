"""Field ownership of apply (crds.ownership via store.apply), on both stores: what an operator,
the GUI or another applier wrote stays unless the manifest names it.

The issue this answers: `make up`, `o2 recover`, `make up` re-applied the sample and reset
`spec.recoverRequest` 1 -> 0, and a re-apply undid `o2 stop` and `o2 label`."""

from __future__ import annotations

from typing import Any

import pytest

from crds.errors import FieldConflictError
from crds.kinds.environment import Environment
from crds.labels import APPLIED_PREFIX
from store.apply import apply
from store.resources import ResourceStore


def manifest(**spec: Any) -> Environment:
    """An Environment manifest naming only `spec` (and the workflow)."""
    labels = spec.pop("labels", {})
    return Environment.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Environment",
            "metadata": {"name": "physics-1", "labels": labels},
            "spec": {"workflow": "readout-dataflow", **spec},
        }
    )


async def operator_writes(store: ResourceStore, *, labels: dict[str, str] | None = None,
                          **spec: Any) -> None:  # fmt: skip
    """What `o2 stop`, `o2 set var` or `o2 label` do: a CAS update of a few fields."""
    env = await store.get(Environment, "physics-1")
    meta = env.metadata.model_copy(update={"labels": {**env.metadata.labels, **(labels or {})}})
    new_spec = env.spec.model_copy(update=spec)
    await store.update(env.model_copy(update={"metadata": meta, "spec": new_spec}))


async def test_reapply_keeps_what_others_wrote_to_fields_it_does_not_name(
    store: ResourceStore,
) -> None:
    sample = manifest(vars={"detectors": '["TPC"]'})
    assert await apply(store, sample) == "created"
    await operator_writes(store, state="CONFIGURED", recover_request=1, labels={"team": "night"})
    assert await apply(store, sample) == "unchanged"
    env = await store.get(Environment, "physics-1")
    assert (env.spec.state, env.spec.recover_request) == ("CONFIGURED", 1)
    assert env.metadata.labels == {"team": "night"}


async def test_a_field_another_writer_changed_is_a_conflict_unless_forced(
    store: ResourceStore,
) -> None:
    sample = manifest(state="RUNNING", vars={"detectors": '["TPC"]', "rate": "100"})
    await apply(store, sample)
    await operator_writes(store, state="CONFIGURED", vars={"detectors": '["TPC"]', "rate": "500"})
    with pytest.raises(FieldConflictError) as caught:
        await apply(store, sample)
    assert caught.value.paths == ("spec.state", "spec.vars.rate")
    assert "--force-conflicts" in str(caught.value)
    env = await store.get(Environment, "physics-1")
    assert (env.spec.state, env.spec.vars["rate"]) == ("CONFIGURED", "500")  # nothing written

    assert await apply(store, sample, policy="keep") == "unchanged"  # o2 up: theirs stay
    assert await apply(store, sample, policy="force") == "configured"
    env = await store.get(Environment, "physics-1")
    assert (env.spec.state, env.spec.vars["rate"]) == ("RUNNING", "100")


async def test_a_field_the_manifest_drops_goes_unless_someone_else_changed_it(
    store: ResourceStore,
) -> None:
    await apply(store, manifest(state="RUNNING", vars={"rate": "100", "mode": "physics"}))
    await operator_writes(store, vars={"rate": "100", "mode": "cosmics"})
    assert await apply(store, manifest(vars={})) == "configured"
    env = await store.get(Environment, "physics-1")
    assert env.spec.state == "STANDBY"  # ours, unchanged since: back to the default
    assert env.spec.vars == {"mode": "cosmics"}  # rate was ours; mode is the operator's now


async def test_an_object_applied_before_ownership_existed_takes_the_manifest_without_conflicts(
    store: ResourceStore,
) -> None:
    await store.create(manifest(state="RUNNING", vars={"rate": "100"}))  # no applied record
    await operator_writes(store, state="CONFIGURED", labels={"team": "night"})
    assert await apply(store, manifest(state="RUNNING", vars={"rate": "200"})) == "configured"
    env = await store.get(Environment, "physics-1")
    assert (env.spec.state, env.spec.vars, env.metadata.labels) == (
        "RUNNING",
        {"rate": "200"},
        {"team": "night"},
    )
    assert any(k.startswith(APPLIED_PREFIX) for k in env.metadata.annotations)
