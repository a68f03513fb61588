"""The installed aetcd is the one store.etcd.aetcd_internals was written against: same release,
and every private name and method signature those overrides rely on still there and unchanged.
When this fails after an aetcd upgrade, re-read aetcd's watcher.py and client.py against
aetcd_internals before changing the expectations here."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import tomllib
import types
from pathlib import Path
from typing import Any

import aetcd
import aetcd.watcher
import pytest

from store.etcd import aetcd_internals

ROOT = Path(__file__).resolve().parents[2]
INTERNALS_SOURCE = Path(aetcd_internals.__file__).read_text()

_NONE = inspect.Parameter.empty
_KW = inspect.Parameter.POSITIONAL_OR_KEYWORD
_ARGS = inspect.Parameter.VAR_POSITIONAL
_KWARGS = inspect.Parameter.VAR_KEYWORD
_WATCH_OPTIONS = [
    ("range_end", _KW, None),
    ("start_revision", _KW, None),
    ("progress_notify", _KW, False),
    ("kind", _KW, None),
    ("prev_kv", _KW, False),
    ("watch_id", _KW, None),
    ("fragment", _KW, False),
]

EXPECTED_SIGNATURES: dict[tuple[type, str], list[tuple[str, Any, Any]]] = {
    (aetcd.watcher.Watcher, "__init__"): [
        ("self", _KW, _NONE),
        ("watchstub", _KW, _NONE),
        ("timeout", _KW, None),
        ("metadata", _KW, None),
    ],
    (aetcd.watcher.Watcher, "_build_watch_create_request"): [
        ("self", _KW, _NONE),
        ("key", _KW, _NONE),
        *_WATCH_OPTIONS,
    ],
    (aetcd.watcher.Watcher, "_build_watch_cancel_request"): [
        ("self", _KW, _NONE),
        ("watch_id", _KW, _NONE),
    ],
    (aetcd.watcher.Watcher, "_enqueue_watch_cancel"): [
        ("self", _KW, _NONE),
        ("args", _ARGS, _NONE),
        ("kwargs", _KWARGS, _NONE),
    ],
    (aetcd.watcher.Watcher, "_handle_response"): [
        ("self", _KW, _NONE),
        ("response", _KW, _NONE),
    ],
    (aetcd.watcher.Watcher, "_process_callback"): [
        ("self", _KW, _NONE),
        ("callback", _KW, _NONE),
        ("event_or_error", _KW, _NONE),
    ],
    (aetcd.watcher.Watcher, "add_callback"): [
        ("self", _KW, _NONE),
        ("key", _KW, _NONE),
        ("callback", _KW, _NONE),
        *_WATCH_OPTIONS,
    ],
    (aetcd.watcher.Watcher, "shutdown"): [("self", _KW, _NONE)],
    (aetcd.watcher.Watcher, "_terminate_stream"): [("self", _KW, _NONE), ("error", _KW, _NONE)],
    (aetcd.Client, "__init__"): [
        ("self", _KW, _NONE),
        ("host", _KW, "localhost"),
        ("port", _KW, 2379),
        ("username", _KW, None),
        ("password", _KW, None),
        ("timeout", _KW, None),
        ("options", _KW, None),
        ("connect_wait_timeout", _KW, 3),
    ],
    (aetcd.Client, "connect"): [("self", _KW, _NONE)],
    (aetcd.Client, "close"): [("self", _KW, _NONE)],
    (aetcd.Client, "watch"): [("self", _KW, _NONE), ("key", _KW, _NONE), *_WATCH_OPTIONS],
    (aetcd.Client, "refresh_lease"): [("self", _KW, _NONE), ("lease_id", _KW, _NONE)],
}
"""aetcd 1.0.0's signatures of the methods aetcd_internals overrides or calls."""


def test_installed_aetcd_is_the_pinned_release() -> None:
    installed = importlib.metadata.version("aetcd")
    assert installed == aetcd_internals.PINNED_VERSION, (
        f"aetcd {installed} is installed but store/etcd/aetcd_internals.py was written against "
        f"{aetcd_internals.PINNED_VERSION}: check its overrides against the new aetcd source"
    )
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = f"aetcd=={aetcd_internals.PINNED_VERSION}"
    assert pinned in dependencies, f"pyproject.toml must pin {pinned}, not {dependencies}"


@pytest.mark.parametrize(
    ("owner", "method"), list(EXPECTED_SIGNATURES), ids=lambda item: getattr(item, "__name__", item)
)
def test_overridden_and_called_aetcd_methods_keep_their_signature(owner: type, method: str) -> None:
    function = getattr(owner, method, None)
    assert function is not None, f"aetcd's {owner.__name__}.{method} is gone"
    found = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
    expected = EXPECTED_SIGNATURES[(owner, method)]
    assert found == expected, f"aetcd's {owner.__name__}.{method} changed: {found} != {expected}"


def test_private_names_relied_upon_exist_in_aetcd() -> None:
    watcher = aetcd.watcher.Watcher(object(), timeout=1.0)
    client = aetcd.Client()
    missing = [n for n in aetcd_internals.WATCHER_PRIVATE if not hasattr(watcher, n)]
    missing += [n for n in aetcd_internals.CLIENT_PRIVATE if not hasattr(client, n)]
    missing += [n for n in aetcd_internals.CLIENT_CHANNEL_ATTRIBUTES if not hasattr(client, n)]
    callback = aetcd.watcher.WatcherCallback(print)
    missing += [n for n in ("callback", "watch_id", "error") if not hasattr(callback, n)]
    assert missing == [], f"aetcd no longer has {missing}, which aetcd_internals relies on"


def test_our_connect_sets_every_attribute_aetcd_connect_would() -> None:
    """Client._open replaces aetcd's connect; aetcd's close resets exactly what connect set."""
    reset = types.SimpleNamespace()
    aetcd.Client._init_channel_attrs(reset)
    expected = {*aetcd_internals.CLIENT_CHANNEL_ATTRIBUTES, "_watcher"}
    assert set(vars(reset)) == expected, (
        f"aetcd's client now manages {sorted(set(vars(reset)) ^ expected)} on connect/close: "
        "update Client._open in aetcd_internals"
    )


def _private_names(cls: ast.ClassDef) -> tuple[set[str], set[str]]:
    """(names the class defines itself, private names it reads or writes on self/super())."""
    own: set[str] = set()
    used: set[str] = set()
    for item in cls.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            own.add(item.name)
        targets = item.targets if isinstance(item, ast.Assign) else []
        own.update(t.id for t in targets if isinstance(t, ast.Name))
    for node in ast.walk(cls):
        if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
            continue
        base = node.value
        on_self = isinstance(base, ast.Name) and base.id == "self"
        on_super = isinstance(base, ast.Call) and getattr(base.func, "id", "") == "super"
        if on_self or on_super:
            used.add(node.attr)
    init = next(i for i in cls.body if isinstance(i, ast.FunctionDef) and i.name == "__init__")
    for node in ast.walk(init):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and _is_private(target.attr):
                    own.add(target.attr)
    return own, used


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize(
    ("name", "base", "declared"),
    [
        ("Watcher", aetcd.watcher.Watcher, aetcd_internals.WATCHER_PRIVATE),
        ("Client", aetcd.Client, aetcd_internals.CLIENT_PRIVATE),
    ],
)
def test_the_declared_private_names_are_exactly_the_ones_used(
    name: str, base: type, declared: tuple[str, ...]
) -> None:
    """Every aetcd private name the module touches is declared (and so checked above), none is
    declared for nothing, and nothing we add shadows a name aetcd has (only the methods whose
    signatures are pinned above are overridden on purpose)."""
    tree = ast.parse(INTERNALS_SOURCE)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    own, used = _private_names(cls)
    undeclared = sorted(used - own - set(declared))
    assert undeclared == [], f"{name} uses aetcd internals {undeclared} not in its declared list"
    unused = sorted(set(declared) - used)
    assert unused == [], f"{name}'s declared aetcd internals {unused} are not used: drop them"
    instance = base(object()) if base is aetcd.watcher.Watcher else base()
    overridden = {method for owner, method in EXPECTED_SIGNATURES if owner is base}
    added = {n for n in own - set(declared) - overridden if not n.startswith("__")}
    shadowed = sorted(n for n in added if hasattr(instance, n))
    assert shadowed == [], f"{name} defines {shadowed}, which aetcd now has too: rename ours"
