"""The work meter of the template sandbox (crds.templating): what a render may cost. Pure: no I/O.

Counting sizes alone did not bound work: `range(1500)|select('in', ('b'*1000000)|list)` builds
nothing large, yet compares a million items 1,500 times (~25 s), and `(['a'*1000000]*200)|
map('upper')|list` builds 200 MB from a 40-character list. A template is an expression (no loops),
so every node runs at most once per render; work repeats only inside filters and tests applied
per item (`map`, `select`, `reject`, `sort`...) and inside C-level operations on large values
(`in`, `*`, slices, string methods). The sandbox charges each of these, as it happens, to the
`Work` meters open around the render:

- every filter, test, function or method call: CALL units, plus the size of its arguments
  (what it reads) and of its result (what it built);
- every `+ * ** %` result and every slice: its size; every piece of output: its length.

A unit is about one byte read or built (a list item counts 8), and CALL stands for the
interpreter's cost of one call (~1 µs). Passing a meter's limit raises TemplateBudgetError at
once, deterministically: the same template fails at the same point on every machine and in
every process, and never runs for long or holds much memory first (`Limits.work` units of
work is also an upper bound on the bytes a render can build). Meters nest: each render has its
own, inside its caller's (`metered`), so a whole environment expansion or config validation is
bounded too, however many renders it makes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from crds.templatehelpers import TemplateBudgetError

__all__ = [
    "CALL",
    "OBJECT_WORK",
    "ROLE_WORK",
    "Work",
    "WorkBudgetError",
    "charge",
    "close_meter",
    "cost",
    "cost_of_call",
    "metered",
    "metered_call",
    "open_meter",
]

CALL = 5_000
"""Units charged per filter, test, function or method call (~5 µs through the sandbox)."""
OBJECT_WORK = 200_000_000
"""Units one object's templates may use in total (one ComponentConfig's validation; an
environment's expansion, plus ROLE_WORK per role it expands): well under a second of the
worst case on one core (hack/bench/templates_bench.py)."""
ROLE_WORK = 1_000_000
"""More units an environment's expansion may use per role (task or call) it expands: at most
a few times the cost of expanding the role itself, so that a large environment can render
as much per task as a small one, and no more."""
ITEM = 8
"""Units per list, tuple or dict item."""


class WorkBudgetError(TemplateBudgetError):
    """A meter ran out; `work` is the meter."""

    def __init__(self, message: str, *, work: Work) -> None:
        super().__init__(message)
        self.work = work


class Work:
    """One meter: `used` units of `limit`, nested in `outer`.

    Charging is one addition and one comparison (it runs for every call a template makes): a
    meter's `ceiling` is the least of its own limit and what the meters around it had left when
    it was opened (they are not charged while it is the innermost), and its units are added to
    `outer` when it is closed. Past the ceiling, the meter that actually ran out is named.
    """

    __slots__ = ("ceiling", "limit", "outer", "scope", "used")

    def __init__(self, limit: int, *, scope: str, outer: Work | None) -> None:
        self.limit = limit
        self.scope = scope
        self.outer = outer
        self.used = 0
        self.ceiling = limit if outer is None else min(limit, outer.left())

    def left(self) -> int:
        """Units still available to a meter opened inside this one."""
        return self.ceiling - self.used

    def extend(self, units: int) -> None:
        """Allow `units` more (an expansion grows its meter with each role it expands)."""
        self.limit += units
        self.ceiling = self.limit if self.outer is None else min(self.limit, self.outer.left())

    def charge(self, units: int) -> None:
        self.used += units
        if self.used > self.ceiling:
            self.overflow()

    def close(self) -> None:
        """Add this meter's units to the one around it (which then fails at its next charge
        if this one ran out because of it)."""
        if self.outer is not None:
            self.outer.used += self.used

    def overflow(self) -> None:
        """Raise WorkBudgetError naming the meter that ran out."""
        pending = 0  # units of the meters inside `work` that are not added to it yet
        work: Work | None = self
        while work is not None:
            if work.used + pending > work.limit:
                raise WorkBudgetError(
                    f"too much work for {work.scope} (over {work.limit:,} units: a filter or "
                    "test applied to too many or too large items, or too many renders)",
                    work=work,
                )
            pending += work.used
            work = work.outer


_CURRENT: ContextVar[Work | None] = ContextVar("o2_template_work", default=None)


def open_meter(limit: int, *, scope: str) -> tuple[Work, Token[Work | None]]:
    """A meter for the code that runs until `close_meter`: the fast form of `metered`."""
    work = Work(limit, scope=scope, outer=_CURRENT.get())
    return work, _CURRENT.set(work)


def close_meter(work: Work, token: Token[Work | None]) -> None:
    _CURRENT.reset(token)
    work.close()


@contextmanager
def metered(limit: int, *, scope: str) -> Iterator[Work]:
    """A meter of `limit` units for the code inside, nested in the meter open around it."""
    work, token = open_meter(limit, scope=scope)
    try:
        yield work
    finally:
        close_meter(work, token)


def charge(units: int) -> None:
    """Charge the innermost open meter; no meter, no charge."""
    work = _CURRENT.get()
    if work is not None:
        work.charge(units)


def cost(value: object) -> int:
    """What holding or reading `value` costs: its characters, or ITEM per item."""
    if isinstance(value, _TEXT):
        return len(value)
    if isinstance(value, int):
        return ITEM + value.bit_length() // 8
    if isinstance(value, _SIZED):
        return ITEM * len(value)
    return ITEM


_TEXT = (str, bytes)
_SIZED = (list, tuple, dict, set, frozenset, range)


def cost_of_call(args: tuple[object, ...], kwargs: Mapping[str, object]) -> int:
    """CALL, plus the cost of every argument."""
    units = CALL
    for arg in args:
        units += cost(arg)
    for arg in kwargs.values():
        units += cost(arg)
    return units


_SORTING = frozenset({"sort", "dictsort", "unique"})


def metered_call(function: Callable[..., Any], *, name: str = "") -> Callable[..., object]:
    """`function` (a filter, test or helper) charging CALL, its arguments and its result.

    Charged once, after the call: one call's work is bounded by its arguments, which were
    charged as they were built, so the meter stops a template at most one call late.
    Jinja2's `pass_context` / `pass_environment` markers are kept (functools.wraps copies the
    function's attributes), and the value they prepend is not charged. Sorting filters charge
    their result n·log2(n) times.
    """
    skip = 1 if hasattr(function, "jinja_pass_arg") else 0
    sorting = name in _SORTING

    @functools.wraps(function)
    def call(*args: object, **kwargs: object) -> object:
        result = function(*args, **kwargs)
        units = cost(result)
        if sorting:
            units *= int(math.log2(units + 2))
        units += CALL
        for arg in args[skip:]:
            units += cost(arg)
        if kwargs:
            units += sum(map(cost, kwargs.values()))
        work = _CURRENT.get()
        if work is not None:  # Work.charge, inline: this runs for every filter and test
            work.used += units
            if work.used > work.ceiling:
                work.overflow()
        return result

    return call
