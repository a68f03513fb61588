"""Who wrote an object's spec last: the `o2.dev/changed-by` annotation and when to believe it.

The GUI and `o2 start|stop|...` name their user on the spec writes they do, with the generation
that write produces (metadata.generation grows by one exactly when the spec changes). Other
writers (`o2 apply`, `o2 edit`, GitOps, the controller's auto stop) do not name anyone: their
spec write leaves the generation past the recorded one, and `changed_by` then answers "" rather
than a stale name. Pure.
"""

from __future__ import annotations

from typing import TypeVar

from crds.labels import CHANGED_BY, CHANGED_BY_GENERATION
from crds.resource import Resource

R = TypeVar("R", bound=Resource)


def attributed(current: R, wanted: R, who: str) -> R:
    """`wanted` (a spec change of `current`) naming `who` as its writer; `wanted` as-is when
    its spec is unchanged (a metadata-only write keeps the generation: naming would then be a
    claim on the next writer's generation) or when `who` is empty."""
    if not who or wanted.spec == current.spec:
        return wanted
    annotations = {
        **wanted.metadata.annotations,
        CHANGED_BY: who,
        CHANGED_BY_GENERATION: str(current.metadata.generation + 1),
    }
    meta = wanted.metadata.model_copy(update={"annotations": annotations})
    return wanted.model_copy(update={"metadata": meta})


def changed_by(obj: Resource) -> str:
    """The user who wrote the object's current spec; "" when its last spec write named nobody."""
    annotations = obj.metadata.annotations
    who = annotations.get(CHANGED_BY, "")
    if who and annotations.get(CHANGED_BY_GENERATION) == str(obj.metadata.generation):
        return who
    return ""


def created_by(obj: R, who: str) -> R:
    """`obj` (about to be created: generation 1) naming `who` as the writer of its spec."""
    if not who:
        return obj
    annotations = {**obj.metadata.annotations, CHANGED_BY: who, CHANGED_BY_GENERATION: "1"}
    return obj.model_copy(
        update={"metadata": obj.metadata.model_copy(update={"annotations": annotations})}
    )
