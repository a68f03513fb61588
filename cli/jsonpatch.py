"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on plain JSON documents. Pure.

`o2 patch` needs both on the wire form of one object; a small implementation keeps the CLI free
of another dependency and lets every refusal name the operation and the pointer that failed.
Inputs are never modified: every function returns a new document.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crds.errors import FieldError, ValidationError

PATCH_FLAG = "-p"
OPS = ("add", "remove", "replace", "move", "copy", "test")


def patch_error(message: str, *, op: int | None = None) -> ValidationError:
    where = PATCH_FLAG if op is None else f"{PATCH_FLAG}[{op}]"
    return ValidationError([FieldError(path=where, message=message)])


def parse_patch(text: str) -> Any:
    """The patch as JSON (YAML flow style people type by hand is JSON too, mostly)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise patch_error(f"not JSON ({exc}); quote it: -p '{{\"spec\": {{...}}}}'") from exc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` removes a key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def pointer_tokens(pointer: str) -> list[str]:
    """RFC 6901: `/a/b~1c/~0d` -> ["a", "b/c", "~d"]; "" is the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"{pointer!r} is not a JSON pointer (it starts with /)")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise ValueError(f"index {index} is out of range (the array has {len(container)} items)")
    return index


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, adding=False)]
        else:
            raise ValueError(f"{pointer}: {token!r} does not exist")
    if not isinstance(node, dict | list):
        raise ValueError(f"{pointer}: the parent is not an object or an array")
    return node


def get_at(doc: Any, pointer: str) -> Any:
    """The value `pointer` names; ValueError when it does not exist."""
    tokens = pointer_tokens(pointer)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent[_index(parent, last, adding=False)]
    if last not in parent:
        raise ValueError(f"{pointer} does not exist")
    return parent[last]


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = pointer_tokens(pointer)
    if not tokens:
        return value
    parent = _parent(doc, tokens, pointer)
    if isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], adding=True), value)
    else:
        parent[tokens[-1]] = value
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    """The document without the value at `pointer`, and that value."""
    tokens = pointer_tokens(pointer)
    if not tokens:
        raise ValueError("removing the whole document is not allowed")
    value = get_at(doc, pointer)
    parent = _parent(doc, tokens, pointer)
    if isinstance(parent, list):
        del parent[_index(parent, tokens[-1], adding=False)]
    else:
        del parent[tokens[-1]]
    return doc, value


def _value(op: Mapping[str, Any]) -> Any:
    if "value" not in op:
        raise ValueError('needs a "value"')
    return copy.deepcopy(op["value"])


def _from(op: Mapping[str, Any]) -> str:
    source = op.get("from")
    if not isinstance(source, str):
        raise ValueError('needs a "from" pointer')
    return source


def _apply_op(doc: Any, op: Mapping[str, Any], path: str) -> Any:
    name = op.get("op")
    if name == "add":
        return _add(doc, path, _value(op))
    if name == "remove":
        return _remove(doc, path)[0]
    if name == "replace":
        get_at(doc, path)
        return _add(_remove(doc, path)[0], path, _value(op))
    if name == "move":
        source = _from(op)
        if path != source and path.startswith(source + "/"):
            raise ValueError(f"cannot move {source} into its own child {path}")
        doc, value = _remove(doc, source)
        return _add(doc, path, value)
    if name == "copy":
        return _add(doc, path, copy.deepcopy(get_at(doc, _from(op))))
    if name == "test":
        found = get_at(doc, path)
        if not _equal(found, _value(op)):
            raise ValueError(f"test failed: {path} is {json.dumps(found)}")
        return doc
    raise ValueError(f"op {name!r} is not one of {', '.join(OPS)}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but true != 1 (Python's bool is an int)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: the operations in order, all or nothing; a refusal names the operation."""
    if not isinstance(operations, Sequence) or isinstance(operations, str):
        raise patch_error('a JSON patch is a list of operations: [{"op": ..., "path": ...}]')
    doc = copy.deepcopy(target)
    for i, op in enumerate(operations):
        if not isinstance(op, Mapping) or not isinstance(op.get("path"), str):
            raise patch_error('each operation is an object with "op" and "path"', op=i)
        try:
            doc = _apply_op(doc, op, op["path"])
        except ValueError as exc:
            raise patch_error(f"{op.get('op')} {op['path']}: {exc}", op=i) from exc
    return doc


def written_pointers(operations: Any) -> list[str]:
    """Every pointer a JSON patch changes (a `test` changes nothing; a `move` also removes its
    `from`), to refuse patches of fields the user may not write before running any of them."""
    if not isinstance(operations, Sequence) or isinstance(operations, str):
        return []
    found: list[str] = []
    for op in operations:
        if not isinstance(op, Mapping) or op.get("op") == "test":
            continue
        sources = (op.get("path"), op.get("from") if op.get("op") == "move" else None)
        found.extend(p for p in sources if isinstance(p, str))
    return found


PATCHERS: dict[str, Callable[[Any, Any], Any]] = {"merge": merge_patch, "json": json_patch}
"""`--type` to its function."""
