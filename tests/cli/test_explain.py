"""`o2 explain`: every kind and every field path of every kind (walked in the schema here)
explains, unknown fields list the valid ones, and --recursive prints a finite tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.commands.explain import explain, load_schema
from cli.explain import Schema, SchemaWalker, explain_text
from crds.errors import NotFoundError, ValidationError
from crds.kindnames import KIND_MODULES
from crds.resource import all_kinds
from tests.cli.conftest import O2

PLURALS = sorted(names[1] for names in KIND_MODULES.values())


def field_paths(
    walker: SchemaWalker, schema: Schema, *, prefix: tuple[str, ...], seen: tuple[str, ...]
) -> Iterator[tuple[str, ...]]:
    """Every path below `schema`; a type already on the path (a role's sub-roles) is entered
    once more, then not again, so the walk ends."""
    for field in walker.fields(schema):
        path = (*prefix, field.name)
        yield path
        if seen.count(field.ref) < 2:
            yield from field_paths(walker, field.schema, prefix=path, seen=(*seen, field.ref))


def test_the_kind_table_names_every_registered_kind() -> None:
    assert sorted(info.plural for info in all_kinds()) == PLURALS


@pytest.mark.parametrize("plural", PLURALS)
def test_explain_works_for_the_kind_and_every_nested_field_path(plural: str) -> None:
    document = load_schema(plural)
    walker = SchemaWalker(document)
    kind = str(document["title"])
    top = explain_text(walker, kind=kind, version="o2/v1alpha1", path=[], recursive=False)
    assert top.startswith(f"KIND:     {kind}\nVERSION:  o2/v1alpha1\n")
    assert "FIELDS:" in top
    paths = list(field_paths(walker, document, prefix=(), seen=()))
    assert len(paths) > 5
    for path in paths:
        text = explain_text(walker, kind=kind, version="v", path=list(path), recursive=False)
        assert f"FIELD:    {'.'.join(path)}\nTYPE:     " in text, text
        assert "DESCRIPTION:" in text


@pytest.mark.parametrize("plural", PLURALS)
def test_recursive_explain_is_a_finite_tree_of_every_field(plural: str) -> None:
    text = explain(plural, recursive=True)
    walker = SchemaWalker(load_schema(plural))
    for field in walker.fields(walker.document):
        assert f"\n   {field.name}\t<" in text


def test_a_field_shows_its_type_enum_and_default() -> None:
    text = explain("env.spec.state", recursive=False)
    assert "TYPE:     string" in text
    assert "Enum: STANDBY, DEPLOYED, CONFIGURED, RUNNING, DONE" in text
    assert "Default: STANDBY" in text


def test_fields_list_types_first_sentences_and_required_marks() -> None:
    text = explain("task.spec.command", recursive=False)
    assert "   value\t<string> -required-" in text
    assert "   arguments\t<[]string>" in text
    assert "   env\t<map[string]string>" in text
    assert "Arguments, each one argv element; no word splitting, no shell expansion." in text


def test_recursive_types_stop_at_the_first_repeat() -> None:
    text = explain("workflow.spec.roles", recursive=True)
    assert "roles\t<[]Role> (recursive: see above)" in text
    deep = explain("workflow.spec.roles.roles.roles.name", recursive=False)
    assert "TYPE:     string" in deep


def test_unknown_field_lists_the_valid_fields_at_that_level() -> None:
    with pytest.raises(ValidationError) as caught:
        explain("env.spec.stat", recursive=False)
    message = str(caught.value)
    assert "environment.spec.stat" in message
    assert "did you mean 'state'?" in message
    assert "valid fields: reclaim, reconfigure, recoverRequest, runType, state, vars" in message


def test_unknown_kind_is_the_get_error() -> None:
    with pytest.raises(NotFoundError):
        explain("pods.spec", recursive=False)


def test_explain_through_the_cli_needs_no_etcd(o2: O2) -> None:
    result = o2("--etcd", "http://127.0.0.1:1", "explain", "tc.spec.command")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("KIND:     TaskClass\n")
    bad = o2("explain", "env.spec.nope")
    assert bad.exit_code == 1
    assert "valid fields:" in bad.stderr
