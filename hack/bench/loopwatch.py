"""Run a module with its event loop's idle time and chosen calls recorded (where a manager waits).

    python -m hack.bench.loopwatch <out-dir> -m controller --etcd ...

Every wait of the loop's selector (`select` with a timeout other than 0) is recorded as an
idle interval, and each call of the functions in MARKS as a timestamped mark (coroutines at
their start and end); all times are CLOCK_MONOTONIC, which other processes on the machine
share (a bench's own marks line up). Each SIGUSR1 writes what was recorded since the last one
to <out-dir>/<pid>.json and starts afresh. The benchmarks start the manager this way with
BENCH_LOOPWATCH=<dir> (hack.bench.stack) and signal it around each transition;
`timeline(...)` turns a dump and the bench's marks into the table `environments_bench` prints.
Not a benchmark itself (hack.bench's runner skips it).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import json
import os
import runpy
import selectors
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import FrameType
from typing import Any

MARKS = {
    "env-reconcile": "controller.environments.controller:EnvironmentReconciler.reconcile",
    "task-spec-txns": "store.resources:ResourceStore.update_many",
    "status-write": "controller.tasks.writer:StatusWriter._write",
    "etcd-txn": "store.batched:BatchedWrites._write_batch",
    "control-pass": "controller.tasks.control:ControlLedger.start_control_pass",
    "control-send": "controller.tasks.control:ControlLedger._send_requests",
    "executor-msg": "controller.tasks.control:ControlLedger.on_message",
    "env-status": "controller.runtime.status:write_status",
}
"""Name -> "module:qualname" of the calls marked (a missing one is skipped)."""

_idle: list[tuple[float, float, float, float, float]] = []
"""(start, end, main thread CPU at start, at end, process CPU at end) of each selector wait."""
_marks: list[tuple[float, str]] = []
_waiting: list[float] = []
"""[start, main thread CPU at start] of the selector wait in progress (a dump cuts it there)."""


def _watch_selector() -> None:
    """Record each selector wait that may block (a timeout of None or above 0)."""
    cls = selectors.DefaultSelector
    select = cls.select

    def timed(self: Any, timeout: float | None = None) -> Any:
        if timeout is not None and timeout <= 0:
            return select(self, timeout)
        _waiting[:] = [time.monotonic(), time.thread_time()]
        try:
            return select(self, timeout)
        finally:
            start, cpu = _waiting  # where a dump during the wait cut it
            _waiting.clear()
            _idle.append((start, time.monotonic(), cpu, time.thread_time(), time.process_time()))

    cls.select = timed  # type: ignore[method-assign]


def _mark(name: str, target: str) -> None:
    module_name, _, qualname = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
        *path, attr = qualname.split(".")
        for part in path:
            owner = getattr(owner, part)
        func = getattr(owner, attr)
    except (ImportError, AttributeError):
        print(f"loopwatch: no {target}", file=sys.stderr)
        return
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def marked_async(*args: Any, **kwargs: Any) -> Any:
            _marks.append((time.monotonic(), name))
            try:
                return await func(*args, **kwargs)
            finally:
                _marks.append((time.monotonic(), name + "/end"))

        setattr(owner, attr, marked_async)
        return

    @functools.wraps(func)
    def marked(*args: Any, **kwargs: Any) -> Any:
        _marks.append((time.monotonic(), name))
        return func(*args, **kwargs)

    setattr(owner, attr, marked)


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit("usage: python -m hack.bench.loopwatch OUT_DIR -m MODULE [ARGS...]")
    out, module = Path(sys.argv[1]), sys.argv[3]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{os.getpid()}.json"

    def dump(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        if _waiting:  # the handler runs inside a wait (or right after it): count it up to now
            now, cpu = time.monotonic(), time.thread_time()
            _idle.append((_waiting[0], now, _waiting[1], cpu, time.process_time()))
            _waiting[:] = [now, cpu]
        idle, marks = _idle[:], _marks[:]
        del _idle[:], _marks[:]
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps({"now": time.monotonic(), "idle": idle, "marks": marks}))
        temp.rename(path)

    _watch_selector()
    sys.path.insert(0, str(Path.cwd()))
    for name, target in MARKS.items():
        _mark(name, target)
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def read_dump(out: Path, pid: int, *, within: float = 30.0) -> dict[str, Any] | None:
    """Signal process `pid` to dump and read what it wrote (None when nothing came)."""
    path = out / f"{pid}.json"
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + within
    while not path.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def timeline(dump: dict[str, Any], start: float, end: float, *, step: float = 0.1) -> str:
    """A dump's window [start, end] as text: each mark's first and last time and count
    (seconds from `start`), then per `step` the loop's idle share, the main thread's CPU
    share (the rest of the step it was runnable, waiting for a CPU) and the marks in it."""
    marks = [(t, name) for t, name in dump["marks"] if start <= t <= end]
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    count: Counter[str] = Counter()
    for t, name in marks:
        first.setdefault(name, t - start)
        last[name] = t - start
        count[name] += 1
    cpu = _busy_cpu(dump["idle"])
    lines = [
        f"window {end - start:.3f} s; idle {_idle_in(dump['idle'], start, end):.3f} s; "
        f"main thread CPU {_cpu_in(cpu, start, end):.3f} s; process CPU "
        f"{_process_cpu(dump['idle'], start, end):.3f} s (worker threads: the loop idles)"
    ]
    for name in sorted(first, key=first.__getitem__):
        lines.append(f"  {name:<22}{first[name]:>8.3f}{last[name]:>8.3f}{count[name]:>8}")
    per_step: dict[int, Counter[str]] = defaultdict(Counter)
    for t, name in marks:
        per_step[int((t - start) / step)][name] += 1
    t = start
    while t < end:
        idle = _idle_in(dump["idle"], t, min(end, t + step)) / step
        used = _cpu_in(cpu, t, min(end, t + step)) / step
        shown = " ".join(f"{k}={v}" for k, v in sorted(per_step[int((t - start) / step)].items()))
        lines.append(f"  {t - start:6.2f} idle {100 * idle:5.1f}% cpu {100 * used:5.1f}%  {shown}")
        t += step
    return "\n".join(lines)


def _idle_in(idle: list[list[float]], start: float, end: float) -> float:
    return sum(max(0.0, min(w[1], end) - max(w[0], start)) for w in idle)


def _process_cpu(idle: list[list[float]], start: float, end: float) -> float:
    """The process's CPU seconds between the first and the last wait that ended in the window."""
    inside = [w for w in idle if start <= w[1] <= end and len(w) > 4]
    return inside[-1][4] - inside[0][4] if len(inside) > 1 else 0.0


def _busy_cpu(idle: list[list[float]]) -> list[tuple[float, float, float]]:
    """(start, end, CPU seconds) of each stretch between two selector waits."""
    return [(a[1], b[0], b[2] - a[3]) for a, b in itertools.pairwise(idle) if b[0] > a[1]]


def _cpu_in(busy: list[tuple[float, float, float]], start: float, end: float) -> float:
    """CPU seconds of the stretches in [start, end], each spread evenly over its stretch."""
    return sum(cpu * max(0.0, min(b, end) - max(a, start)) / (b - a) for a, b, cpu in busy if b > a)


if __name__ == "__main__":
    main()
