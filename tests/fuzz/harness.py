"""Fuzz test harness: hypothesis profiles, the run counter and the time/memory bound.

Profiles (env HYPOTHESIS_PROFILE, default `fuzz`): `fuzz` is sized so the whole directory runs
in well under a minute on 2 cores (it is part of `make test`); `ci` runs about five times as
many examples, `deep` a hundred times as many, for a long soak. Only the fuzz tests read the
variable: the other hypothesis tests keep their own settings.
"""

from __future__ import annotations

import functools
import inspect
import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings

EXAMPLES = {"fuzz": 1, "ci": 5, "deep": 100}
"""Examples per test as a multiple of the test's own base count."""
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz")
if PROFILE not in EXAMPLES:
    raise RuntimeError(
        f"HYPOTHESIS_PROFILE={PROFILE!r} is not a fuzz profile: use one of {', '.join(EXAMPLES)}"
    )

RUNS: Counter[str] = Counter()
"""Examples run per fuzz test (`module::test`), printed at the end of the session."""

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(base: int, *, fixtures: bool = False, known_failing: bool = False) -> Callable[[F], F]:
    """Settings for one fuzz test (`base` examples in the default profile), counting its runs.

    Apply it under `@given`. No hypothesis deadline: the tests assert their own, generous,
    bound, and a noisy machine must not turn a slow example into a flaky failure.
    `known_failing` (an xfail test): no shrinking, and only its explicit examples in the
    default profile, so a known failure costs seconds, not minutes.
    """
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
    if known_failing:
        phases = [Phase.explicit] if PROFILE == "fuzz" else [Phase.explicit, Phase.generate]
    checks = [HealthCheck.too_slow, HealthCheck.data_too_large]
    if fixtures:
        checks.append(HealthCheck.function_scoped_fixture)
    chosen = settings(
        max_examples=base * EXAMPLES[PROFILE],
        deadline=None,
        database=None,
        print_blob=True,
        phases=phases,
        suppress_health_check=checks,
    )

    def decorate(fn: F) -> F:
        name = f"{fn.__module__.rsplit('.', 1)[-1]}::{fn.__name__}"
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def counted_async(*args: Any, **kwargs: Any) -> Any:
                RUNS[name] += 1
                return await fn(*args, **kwargs)

            return chosen(counted_async)  # type: ignore[return-value]

        @functools.wraps(fn)
        def counted(*args: Any, **kwargs: Any) -> Any:
            RUNS[name] += 1
            return fn(*args, **kwargs)

        return chosen(counted)  # type: ignore[return-value]

    return decorate


T = TypeVar("T")

SECONDS = 5.0
"""Per-example time bound: generous, the machine is shared."""
MEBIBYTES = 256
"""Per-example memory bound (peak resident growth): far above any valid input's cost."""
_CLEAR_REFS = Path("/proc/self/clear_refs")


def bounded(
    call: Callable[[], T], *, seconds: float = SECONDS, mebibytes: int = MEBIBYTES
) -> tuple[T | None, Exception | None]:
    """(result, None) or (None, exception) of `call`, asserting its time and memory peak.

    Memory is the growth of the process's resident high-water mark, reset before the call
    (Linux); elsewhere tracemalloc's peak, which slows allocation down several times.
    """
    meter = _Peak()
    start = time.monotonic()
    try:
        return call(), None
    except Exception as exc:  # the caller decides which errors are acceptable
        return None, exc
    finally:
        elapsed = time.monotonic() - start
        peak = meter.stop()
        assert elapsed < seconds, f"took {elapsed:.2f}s (bound {seconds}s)"
        assert peak < mebibytes * 2**20, f"peak {peak / 2**20:.0f} MiB (bound {mebibytes} MiB)"


class _Peak:
    """Peak memory growth from construction to `stop()`, in bytes."""

    def __init__(self) -> None:
        self.rss = os.access(_CLEAR_REFS, os.W_OK)
        if self.rss:
            _CLEAR_REFS.write_text("5")  # resets VmHWM to the current resident size
            self.base = _status_kib("VmHWM")
        else:
            tracemalloc.start()

    def stop(self) -> int:
        if self.rss:
            return (_status_kib("VmHWM") - self.base) * 1024
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def report_runs(write: Callable[[str], None], runs: Mapping[str, int]) -> None:
    """One line per fuzz test with its example count, and the total."""
    if not runs:
        return
    write(f"fuzz examples run (profile {PROFILE}):")
    for name, count in sorted(runs.items()):
        write(f"  {count:7d}  {name}")
    write(f"  {sum(runs.values()):7d}  total")
