"""The help of `o2 edit`, `o2 patch` and `o2 set var|detectors` shows its examples (which
tests/cli/test_help_examples_run.py runs); and `patch` retries the read and the patch when
someone writes in between, still writing once itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from cli.commands import edit, patch, setvars
from cli.commands.patch import PatchType, patched
from cli.modify import modify
from crds.kinds.environment import Environment
from store.api import Store
from tests.cli.conftest import O2

HELPS = {
    "edit": edit.HELP,
    "patch": patch.HELP,
    "set var": setvars.VAR_HELP,
    "set detectors": setvars.DETECTORS_HELP,
}


@pytest.mark.parametrize("command", list(HELPS))
def test_help_shows_the_examples(o2: O2, command: str) -> None:
    result = o2(*command.split(), "--help")
    assert result.exit_code == 0
    assert f"o2 {command}" in result.stdout.split("Examples", 1)[1]


class RacingStore:
    """The real store, but another client writes the object right after the first read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.raced = False
        self.updates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get(self, kind: type[Environment], name: str) -> Environment:
        current = await self.store.get(kind, name)
        if not self.raced:
            self.raced = True
            vars_ = {**current.spec.vars, "qc_replicas": "3"}
            spec = current.spec.model_copy(update={"vars": vars_})
            await self.store.update(current.model_copy(update={"spec": spec}))
        return current

    async def update(self, obj: Environment) -> Environment:
        self.updates += 1
        return await self.store.update(obj)


async def test_patch_rereads_and_patches_again_after_a_conflict(etcd_store: Store) -> None:
    from crds.manifest import parse_documents

    for obj in parse_documents(
        (Path(__file__).parents[2] / "manifests/samples/environment-physics-1.yaml").read_text(),
        source="sample",
    ):
        await etcd_store.create(obj)
    racing = RacingStore(etcd_store)
    change = await modify(
        cast(Store, racing),
        Environment,
        "physics-1",
        change=lambda env: patched(
            env, patch_type=PatchType.merge, patch={"spec": {"vars": {"rate": "500"}}}
        ),
        dry_run=False,
    )
    assert racing.updates == 2  # the first lost its compare, the second was written
    assert change.after.spec.vars == {"detectors": '["TPC"]', "rate": "500", "qc_replicas": "3"}
    assert "+    rate: '500'" in change.diff()
    assert "+    qc_replicas" not in change.diff()  # the diff is against what it patched
    stored = await etcd_store.get(Environment, "physics-1")
    assert stored.spec.vars == change.after.spec.vars
    assert stored.metadata.generation == 3
