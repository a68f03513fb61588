"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) as `o2 patch` applies them: the
RFCs' own examples, and refusals that name the operation."""

from __future__ import annotations

from typing import Any

import pytest

from cli.jsonpatch import json_patch, merge_patch, parse_patch, pointer_tokens, written_pointers
from crds.errors import ValidationError

# RFC 7386 appendix A: (target, patch, result)
MERGE_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), MERGE_CASES)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_merge_patch_leaves_its_inputs_alone() -> None:
    target = {"a": {"b": 1}}
    merge_patch(target, {"a": {"b": 2}})
    assert target == {"a": {"b": 1}}


# RFC 6902 appendix A (the successful ones): (document, patch, result)
JSON_CASES = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}], None),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], None),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
]


@pytest.mark.parametrize(("document", "patch", "result"), JSON_CASES)
def test_json_patch_follows_rfc_6902(document: Any, patch: Any, result: Any) -> None:
    if result is None:  # the RFC's results spelled out below
        result = {
            "/child": {"foo": "bar", "child": {"grandchild": {}}},
            "/foo/-": {"foo": ["bar", ["abc", "def"]]},
        }[patch[0]["path"]]
    assert json_patch(document, patch) == result


@pytest.mark.parametrize(
    ("document", "patch", "message"),
    [
        (
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            'test failed: /baz is "qux"',
        ),
        ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "test failed"),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], "does not exist"),
        ({"foo": "bar"}, [{"op": "remove", "path": "/nope"}], "/nope does not exist"),
        ({"foo": "bar"}, [{"op": "replace", "path": "/nope", "value": 1}], "/nope does not exist"),
        ({"a": [1]}, [{"op": "add", "path": "/a/5", "value": 1}], "out of range"),
        ({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 1}], "not an array index"),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], "own child"),
        ({"a": 1}, [{"op": "add", "path": "/b"}], 'needs a "value"'),
        ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "not one of add, remove"),
        ({"a": 1}, [{"op": "add", "path": "a", "value": 1}], "not a JSON pointer"),
    ],
)
def test_json_patch_refusal_names_the_operation(document: Any, patch: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        json_patch(document, patch)
    assert caught.value.errors[0].path == "-p[0]"
    assert message in caught.value.errors[0].message


def test_json_patch_is_all_or_nothing_and_leaves_its_input_alone() -> None:
    document = {"a": 1}
    with pytest.raises(ValidationError) as caught:
        json_patch(
            document, [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/c"}]
        )
    assert caught.value.errors[0].path == "-p[1]"
    assert document == {"a": 1}


def test_a_json_patch_must_be_a_list_of_operations() -> None:
    with pytest.raises(ValidationError, match="list of operations"):
        json_patch({}, {"op": "add"})
    with pytest.raises(ValidationError, match='"op" and "path"'):
        json_patch({}, [{"op": "add"}])


def test_pointers_unescape_and_written_pointers_skip_tests() -> None:
    assert pointer_tokens("/a~1b/~0c/") == ["a/b", "~c", ""]
    assert pointer_tokens("") == []
    ops = [
        {"op": "test", "path": "/status"},
        {"op": "move", "from": "/status/x", "path": "/spec/x"},
        {"op": "copy", "from": "/status/y", "path": "/spec/y"},
    ]
    assert written_pointers(ops) == ["/spec/x", "/status/x", "/spec/y"]


def test_patch_text_that_is_not_json_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="not JSON"):
        parse_patch("{spec: 1")
