"""The desired tasks' properties digests (what a configured task is compared by) are computed
once per distinct set of properties: the tasks of a role share theirs (one JSON dump and
sha256 each for 10,000 tasks was most of a DEPLOY's first plan)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from controller.environments import expansion as expansion_module
from controller.environments.expand import expand
from controller.environments.expansion import properties_digest
from hack.bench.environments_shape import manifests


def test_tasks_with_the_same_properties_share_one_digest_computation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taskclasses, workflow, env = manifests(400, 2)
    classes = {c.name: c for c in taskclasses}
    wanted = expand(env, workflow, classes, run_number=None)
    monkeypatch.setattr(expansion_module, "_digests", {})
    computed: list[Mapping[str, str]] = []

    def counting(properties: Mapping[str, str]) -> str:
        computed.append(properties)
        return properties_digest(properties)

    monkeypatch.setattr(expansion_module, "properties_digest", counting)
    digests = [w.digest for w in wanted.tasks.values()]
    assert len(digests) == 400
    assert len(computed) == 2  # one per detector; before: one per task
    monkeypatch.undo()
    assert digests == [properties_digest(w.spec.properties) for w in wanted.tasks.values()]
