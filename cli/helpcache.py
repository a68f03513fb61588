"""`o2 --help` answered from a cache of what typer printed last time in the same conditions.

The top-level help is rendered by typer and rich (panels, markdown, wrapping to the terminal's
width, colours on a terminal): importing them costs three times the 0.15 s a help may take, and
rendering the same layout without them would be a second copy of typer's. The text depends
only on o2's command table and root options, the installed typer and rich, the terminal (is it
one, its size, its encoding) and a few environment variables those libraries read. So the first
`o2 --help` in given conditions runs typer and keeps the bytes it printed, under a key hashed
from all of these; the next one prints them without importing typer. A failure to read or
write the cache only means typer renders the help. Edge I/O: the cache directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

SOURCES = ("main.py", "lazy.py", "lazygroup.py", "options.py", "entry.py", "helpcache.py")
"""The modules of cli/ the root help is built from: a change to any of them is a new key."""
LIBRARIES = ("typer", "rich", "markdown_it", "pygments")
"""What renders the help: typer (with its click), rich, and what rich renders markdown with."""
ENV_NAMES = frozenset(
    {
        "COLORTERM",
        "COLUMNS",
        "DATABRICKS_RUNTIME_VERSION",
        "FORCE_COLOR",
        "GITHUB_ACTIONS",
        "JUPYTER_COLUMNS",
        "JUPYTER_LINES",
        "LANG",
        "LINES",
        "NO_COLOR",
        "PY_COLORS",
        "TERM",
        "TERMINAL_WIDTH",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
        "TYPER_USE_RICH",
        "UNICODE_VERSION",
    }
)
ENV_PREFIXES = ("_TYPER", "O2_", "LC_", "PYTHON")
"""The environment variables typer, rich and Python's stdout read (and o2's own)."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "o2" / "help"


def _stat(path: str | None) -> str:
    if path is None:
        return "-"
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{path}:{st.st_mtime_ns}:{st.st_size}"


def _library(name: str) -> str:
    """Where `name` is installed and when it was written, found without importing it."""
    for entry in sys.path:
        init = os.path.join(entry or ".", name, "__init__.py")
        if os.path.isfile(init):
            return _stat(init)
    return "-"


def _terminal(fd: int) -> str:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return f"{fd}:{os.isatty(fd) if _open(fd) else '-'}"
    return f"{fd}:{os.isatty(fd)}:{size.columns}x{size.lines}"


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def key(argv: Sequence[str]) -> str:
    """The conditions the help text depends on, hashed."""
    here = os.path.dirname(os.path.abspath(__file__))
    parts = [
        "v1",
        sys.version,
        " ".join(argv),
        *(_stat(os.path.join(here, name)) for name in SOURCES),
        *(_library(name) for name in LIBRARIES),
        *(_terminal(fd) for fd in (0, 1, 2)),
        f"{sys.stdout.encoding}:{sys.stdout.errors}",
        *sorted(
            f"{k}={v}"
            for k, v in os.environ.items()
            if k in ENV_NAMES or k.startswith(ENV_PREFIXES)
        ),
    ]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:40]


def print_cached(argv: Sequence[str]) -> bool:
    """Print the cached help for `argv` and return True, or False when there is none."""
    try:
        text = (cache_dir() / key(argv)).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


class _Tee:
    """stdout as typer and rich see it (a terminal or not, its size and encoding), keeping a
    copy of what is written."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        written = self.real.write(text)  # click probes with bytes: refused, as by stdout
        self.parts.append(text)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextmanager
def recording(argv: Sequence[str]) -> Iterator[None]:
    """Run typer's help inside: what it prints, when it exits with 0, is kept for `argv`."""
    real = sys.stdout
    tee = _Tee(real)
    sys.stdout = tee
    try:
        yield
    except SystemExit as exc:
        text = "".join(tee.parts)
        if exc.code in (0, None) and text:
            _store(key(argv), text)
        raise
    finally:
        sys.stdout = real


def _store(name: str, text: str) -> None:
    """Write atomically (another `o2 --help` may read it meanwhile); errors are ignored."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{name}.{os.getpid()}"
        partial.write_text(text, encoding="utf-8")
        partial.replace(directory / name)
    except OSError:
        return
