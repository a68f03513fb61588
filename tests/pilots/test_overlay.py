"""The pilot controller reads its own recent writes over a lagging informer cache."""

from __future__ import annotations

from controller.pilots.controller import _fresh
from tests.pilots.factories import at, pilot_on


def test_newer_own_write_wins_over_the_cache_until_the_cache_catches_up() -> None:
    cached = pilot_on("a").model_copy(
        update={"metadata": pilot_on("a").metadata.model_copy(update={"resource_version": 5})}
    )
    deleting = cached.model_copy(
        update={
            "metadata": cached.metadata.model_copy(
                update={"resource_version": 6, "deletion_timestamp": at(1)}
            )
        }
    )
    written = {"pilot-a": deleting}
    assert _fresh([cached], written) == [deleting]
    caught_up = deleting.model_copy(
        update={"metadata": deleting.metadata.model_copy(update={"resource_version": 7})}
    )
    assert _fresh([caught_up], written) == [caught_up]
    assert written == {}


def test_created_object_not_yet_cached_is_seen_but_unseen_nodes_are_not_kept() -> None:
    created = pilot_on("a")
    assert _fresh([], {"pilot-a": created}) == [created]
    assert _fresh([], {"pilot-a": created}, keep_unseen=False) == []
