"""An update's merge tells a changed spec by its plain fields first (codec.same_model): a spec
whose state moved is found changed without comparing its nested models, which pydantic's
__eq__ walks first when they come first (a Task's command, wants and constraints come before
its state); an unchanged spec is still compared whole, nested models included."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from crds.meta import O2Model, ObjectMeta, Status
from crds.resource import Resource
from store import codec

COMPARED: list[str] = []


class _Counted(O2Model):
    value: str = ""

    def __eq__(self, other: Any) -> bool:
        COMPARED.append(self.value)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


class _Spec(O2Model):
    command: _Counted = Field(default_factory=_Counted)
    state: str = ""


class _Kind(Resource):
    KIND: ClassVar[str] = "Counted"
    kind: Literal["Counted"] = "Counted"
    spec: _Spec = Field(default_factory=_Spec)
    status: Status = Field(default_factory=Status)


def _obj(state: str) -> _Kind:
    spec = _Spec(command=_Counted(value="run"), state=state)  # a fresh nested model each time
    return _Kind(metadata=ObjectMeta(name="c", generation=1), spec=spec)


def test_a_spec_whose_state_moved_is_changed_without_comparing_its_nested_models() -> None:
    COMPARED.clear()
    merged, changed, remove = codec.merge_update(_obj("CONFIGURED"), _obj("RUNNING"))
    assert changed and not remove and merged.metadata.generation == 2
    assert merged.spec.state == "RUNNING"
    assert COMPARED == []  # was ["run"]: the nested command compared before the state


def test_an_unchanged_spec_is_compared_whole() -> None:
    COMPARED.clear()
    stored = _obj("RUNNING")
    merged, changed, _ = codec.merge_update(stored, _obj("RUNNING"))
    assert not changed and merged is stored
    assert COMPARED  # its nested command was compared
    other = _obj("RUNNING")
    other = other.model_copy(update={"spec": _Spec(command=_Counted(value="x"), state="RUNNING")})
    merged, changed, _ = codec.merge_update(stored, other)
    assert changed and merged.metadata.generation == 2 and merged.spec.command.value == "x"
