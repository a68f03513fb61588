"""Who wrote an object's spec last: named only for the generation their write produced."""

from __future__ import annotations

from crds.changedby import attributed, changed_by, created_by
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.labels import CHANGED_BY_GENERATION
from crds.meta import ObjectMeta


def stored(generation: int = 3, **annotations: str) -> Environment:
    return Environment(
        metadata=ObjectMeta(name="physics-1", generation=generation, annotations=annotations),
        spec=EnvironmentSpec(workflow="readout-dataflow", state="CONFIGURED"),
    )


def written(env: Environment, wanted: Environment) -> Environment:
    """What the store keeps: generation + 1 exactly when the spec changed."""
    bump = 1 if wanted.spec != env.spec else 0
    meta = wanted.metadata.model_copy(update={"generation": env.metadata.generation + bump})
    return wanted.model_copy(update={"metadata": meta})


def with_state(env: Environment, state: str) -> Environment:
    return env.model_copy(update={"spec": env.spec.model_copy(update={"state": state})})


def test_a_named_spec_write_is_believed_until_someone_else_writes_the_spec() -> None:
    env = stored()
    after = written(env, attributed(env, with_state(env, "RUNNING"), "alice"))
    assert changed_by(after) == "alice"
    anonymous = written(after, with_state(after, "CONFIGURED"))  # o2 apply: names nobody
    assert changed_by(anonymous) == ""
    relabelled = written(anonymous, anonymous)  # a metadata-only write keeps the generation
    assert changed_by(relabelled) == ""


def test_an_unchanged_spec_or_no_user_claims_nothing() -> None:
    env = stored()
    assert attributed(env, env, "alice") is env
    assert attributed(env, with_state(env, "RUNNING"), "").metadata.annotations == {}


def test_a_created_object_names_its_creator_for_generation_one() -> None:
    env = created_by(stored(generation=1), "bob")
    assert env.metadata.annotations[CHANGED_BY_GENERATION] == "1"
    assert changed_by(env) == "bob"
    assert changed_by(stored(generation=2, **env.metadata.annotations)) == ""
