"""What expanding a task costs: a `{{ name }}` value is read without running Jinja2 (the same
text, the same meter charge, the same errors), the tasks of a class share one validated
Command, and a role's frame is copied without dataclasses.replace."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.environments import template
from controller.environments.expand import expand
from controller.environments.frames import Frame, with_, with_locals
from controller.environments.template import Scope, bare_name
from crds import templating
from crds.errors import TemplateError
from crds.templatework import metered
from hack.bench.environments_shape import manifests


def scope(*layers: dict[str, str]) -> Scope:
    return Scope([(f"layer{i}", layer) for i, layer in enumerate(layers)], where="flp-TPC.readout")


@pytest.fixture
def jinja_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources Scope hands to Jinja2."""
    runs: list[str] = []
    evaluate = templating.evaluate

    def counting(compiled: object, parent: object, **kwargs: object) -> str:
        runs.append(str(kwargs["source"]))
        return evaluate(compiled, parent, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(template, "evaluate", counting)
    return runs


def test_a_bare_variable_is_read_without_jinja(jinja_runs: list[str]) -> None:
    s = scope({"rate": "100", "uri": "consul://{{ host }}/cfg"}, {"host": "flp1"})
    assert s.render("{{ rate }}") == "100"
    assert s.render("{{uri}}") == "consul://flp1/cfg"
    assert s.render("{{  host\t}}") == "flp1"
    assert jinja_runs == ["consul://{{ host }}/cfg"]  # the variable's own value is no bare name


@pytest.mark.parametrize(
    "source",
    ["{{ none }}", "{{ true }}", "{{ rate }} ", "x{{ rate }}", "{{ rate|upper }}", "{{- rate }}"],
)
def test_anything_but_a_bare_variable_runs_jinja(source: str, jinja_runs: list[str]) -> None:
    assert bare_name(source) is None
    scope({"rate": "100"}).render(source)
    assert jinja_runs == [source]


def test_a_bare_variable_renders_and_charges_as_jinja_does() -> None:
    s = scope({"a": "{{ b }}-{{ b }}", "b": "xyz", "c": "{{ a|upper }}"})
    for name in ("a", "b", "c"):
        with metered(10**9, scope="fast") as fast:
            got = scope(*[dict(layer) for _, layer in s._layers]).render("{{ " + name + " }}")
        with metered(10**9, scope="jinja") as slow:
            compiled = templating.compile_template("{{ " + name + " }}")
            fresh = scope(*[dict(layer) for _, layer in s._layers])
            fresh._work = template._Work()
            want = templating.evaluate(
                compiled, template._Lookup(fresh), where="", source="{{ " + name + " }}"
            )
        assert got == want
        assert fast.used == slow.used > 0


def test_a_missing_or_failing_bare_variable_fails_as_before() -> None:
    with pytest.raises(TemplateError, match="'rtae' is undefined"):
        scope({}).render("{{ rtae }}", field="command.value")
    with pytest.raises(TemplateError, match="'nope' is undefined"):
        scope({"a": "{{ nope }}"}).render("{{ a }}", field="properties.a")


def test_a_bare_variable_longer_than_the_output_limit_fails() -> None:
    long = "x" * (template.MAX_OUTPUT + 1)
    with pytest.raises(TemplateError, match="long"):
        scope({"a": long}).render("{{ a }}")


def test_the_tasks_of_a_class_share_one_validated_command() -> None:
    classes, workflow, env = manifests(200, agents=2)
    expansion = expand(env, workflow, {c.name: c for c in classes}, run_number=None)
    commands = {}
    for task in expansion.tasks.values():
        commands.setdefault(task.spec.task_class, set()).add(id(task.spec.command))
    assert {k: len(v) for k, v in commands.items()} == {"readout": 1, "stfbuilder": 1}
    again = expand(env, workflow, {c.name: c for c in classes}, run_number=None)
    assert again.tasks == expansion.tasks


def test_frame_copies_are_those_of_replace() -> None:
    frame = Frame(path="a", specials={"role_path": "a"}, includes=("wf",))
    assert with_(frame, path="a.b", template="x") == replace(frame, path="a.b", template="x")
    assert with_locals(frame, "iterator d", {"d": "1"}).locals == (("iterator d", {"d": "1"}),)
    assert with_locals(frame, "", {}) is frame
