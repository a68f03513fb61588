"""No product module reaches into another's private state: a part's `_names` are written and read
only by the part that owns them, so it can change them without breaking someone else.

Three ways in, three checks on every product package:
- `obj._name` where obj is not self/cls/super() (nor an instance of the accessing class): ruff's
  SLF001, enabled for product code in pyproject.toml and run here with that configuration;
- `from module import _name` (or `import pkg._module`): the AST scan below;
- `getattr(obj, "_name")` and its setattr/hasattr/delattr twins on anything but self/cls, the
  same access spelled to dodge the two above: the AST scan below.
store/etcd/aetcd_internals.py overrides aetcd's internals through subclassing (self/super()),
which these rules allow; that reliance is pinned by tests/store/test_aetcd_pin.py instead.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PRODUCT = tuple(PYPROJECT["tool"]["importlinter"]["root_packages"])

GENERATED = ("_pb2.py", "_pb2_grpc.py")
"""Generated protobuf/grpc stubs: not written by us, regenerated as they come."""

ALLOWED: dict[tuple[str, str], str] = {
    # (path relative to the repository, private name): why this access is the owner's own.
}
"""Accesses the AST scan accepts; each entry says why. Entries no longer needed fail the test."""

ACCESSORS = ("getattr", "setattr", "hasattr", "delattr")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _product_files() -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not path.name.endswith(GENERATED):
                yield path


def _is_self(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "super"


def _private_reaches(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """(line, private name, how) for each private import and each string-spelled access."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _is_private(alias.name):
                    yield node.lineno, alias.name, f"from {node.module} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                private = [part for part in alias.name.split(".") if _is_private(part)]
                if private:
                    yield node.lineno, private[0], f"import {alias.name}"
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ACCESSORS:
            target, name = [*node.args, None, None][:2]
            if (
                isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and _is_private(name.value)
                and target is not None
                and not _is_self(target)
            ):
                yield node.lineno, name.value, ast.unparse(node)


def _scan() -> tuple[list[str], set[tuple[str, str]]]:
    found: list[str] = []
    used: set[tuple[str, str]] = set()
    for path in _product_files():
        relative = path.relative_to(ROOT).as_posix()
        for line, name, how in _private_reaches(ast.parse(path.read_text(), str(path))):
            if (relative, name) in ALLOWED:
                used.add((relative, name))
            else:
                found.append(f"{relative}:{line}: {how}")
    return found, used


def test_no_product_module_imports_or_spells_out_another_modules_private_names() -> None:
    found, _ = _scan()
    assert found == [], "private names reached from outside their module:\n" + "\n".join(found)


def test_every_allowed_exception_is_still_needed() -> None:
    _, used = _scan()
    stale = sorted(set(ALLOWED) - used)
    assert stale == [], f"allow-list entries that match nothing any more: {stale}"


def test_ruff_checks_private_member_access_in_product_code() -> None:
    lint = PYPROJECT["tool"]["ruff"]["lint"]
    selected = lint["select"]
    assert "SLF" in selected or "SLF001" in selected, "pyproject.toml must select ruff's SLF001"
    for pattern, ignored in lint.get("per-file-ignores", {}).items():
        if any(code in ("SLF", "SLF001") for code in ignored):
            assert pattern.startswith("tests/"), f"SLF001 is switched off for {pattern}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "SLF001",
            "--output-format",
            "concise",
            *PRODUCT,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        "private members of other objects accessed (ruff SLF001):\n" + result.stdout
    )
