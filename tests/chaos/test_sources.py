"""The soak's GitSource check against the repository as it is: a commit cancelled with the
workload still lands (its git call runs in a thread to the end)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.gitsource import GitSource
from hack.chaos.observer import Observer
from hack.chaos.sources import CONFIG, GIT_CONFIG, Sources, git, git_manifest
from store.memory import MemoryStore


async def test_a_commit_made_as_the_workload_was_cancelled_is_the_one_checked(
    tmp_path: Path, memory_store: MemoryStore
) -> None:
    """Regression (a full run): the soak reported "commit f45ac9a not applied" while the
    GitSource had applied the next commit, made by a git call that finished after the
    workload was cancelled, before the soak recorded it."""
    sources = Sources(memory_store, Observer(memory_store, "/o2"), random.Random(1), tmp_path / "r")
    await sources.setup()
    await sources.commit()
    recorded = sources.head
    (sources.repo / "config.yaml").write_text(git_manifest(sources.commits))
    git(sources.repo, "add", "--all")  # the cancelled commit: it lands, nothing is recorded
    git(sources.repo, "commit", "--quiet", "-m", f"{sources.commits}")
    head = git(sources.repo, "rev-parse", "HEAD")
    assert head != recorded
    source = await memory_store.get(GitSource, CONFIG)  # what the controller did: applied it
    status = source.status.model_copy(update={"last_applied_commit": head})
    await memory_store.update_status(source.model_copy(update={"status": status}))
    applied = ComponentConfig.model_validate(
        {
            "kind": "ComponentConfig",
            "metadata": {"name": GIT_CONFIG},
            "spec": {"component": GIT_CONFIG, "format": "ini", "data": "commit 2"},
        }
    )
    await memory_store.create(applied)
    await asyncio.wait_for(sources.check(within=5), 10)
    assert sources.lag["gitsource"] is not None
    # (no ComponentConfig controller runs here, so the config edit is never recorded)
    assert not [v for v in sources.observer.violations if "gitsource" in v]
