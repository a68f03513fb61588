"""Per-controller work queue: de-duplicated keys, one in flight per key, backoff, rate limit.

Semantics follow client-go's workqueue: a key added while queued is queued once; a key added
while being processed is processed once more after `done()`; per-key exponential backoff with
jitter for failures plus an overall token bucket; `add_after` for delayed requeues. Beyond it,
`pace`: a not-before time for a key's next hand-out, which every add before then waits for
(a reconcile asks for it through `Result.pace`), which may end sooner, after so many adds of
the key (`Result.pace_adds`: the changes the reconcile waits for came). The core
(`QueueCore`) is pure and driven by an injected clock; `WorkQueue` adds asyncio waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    """Overall rate limit for failure requeues: `rate` tokens/s, at most `burst` saved up."""

    rate: float = 50.0
    burst: int = 300
    _tokens: float = field(default=-1.0, init=False)
    _last: float = field(default=0.0, init=False)

    def reserve(self, now: float) -> float:
        """Take one token; returns how long the caller must wait for it (0 when available)."""
        if self._tokens < 0:
            self._tokens, self._last = float(self.burst), now
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


@dataclass
class Backoff:
    """Per-key exponential backoff: base * 2^failures, capped, with multiplicative jitter."""

    base: float = 0.005
    cap: float = 1000.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)
    _failures: dict[str, int] = field(default_factory=dict, init=False)

    def next_delay(self, key: str) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        delay = self.cap if n >= 64 else min(self.cap, self.base * (2**n))
        return min(self.cap, delay * (1.0 + self.jitter * self.rng.random()))

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


class QueueCore:
    """The pure queue state machine; every time-dependent call takes `now`."""

    def __init__(self, *, backoff: Backoff | None = None, bucket: TokenBucket | None = None):
        self.backoff = backoff or Backoff()
        self.bucket = bucket or TokenBucket()
        self._ready: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._held: dict[str, float] = {}
        """Key -> the time before which it is not handed out (see `pace`)."""
        self._held_adds: dict[str, int] = {}
        """Key -> the adds after which its pace hold ends sooner (see `pace`)."""
        self._flight_adds: dict[str, int] = {}
        """Key in flight -> how often it was added since it was handed out."""
        self._seq = 0

    def __len__(self) -> int:
        """Keys waiting to be handed out now (the `depth` metric)."""
        return len(self._ready)

    @property
    def delayed(self) -> int:
        return len(self._waiting)

    @property
    def idle(self) -> bool:
        """Nothing ready, delayed or in flight."""
        return not (self._ready or self._waiting or self._processing)

    def in_flight(self, key: str) -> bool:
        return key in self._processing

    def add(self, key: str) -> bool:
        """Queue `key` unless already queued; returns True when waiters should look again (it
        became ready now, or, paced, got a new due time)."""
        if key in self._processing:
            self._flight_adds[key] = self._flight_adds.get(key, 0) + 1
        if key in self._dirty:
            return False
        held = self._held.get(key)
        if held is not None and key not in self._processing:
            left = self._held_adds.get(key)
            if left is not None and left <= 1:
                self._release(key)
                return self._ready_up(key)
            if left is not None:
                self._held_adds[key] = left - 1
            return self._due_at(key, held)
        return self._ready_up(key)

    def rush(self, key: str) -> bool:
        """`add`, ending `key`'s pace hold first: what changed is not what the hold paces (the
        object's own spec, not its dependents)."""
        if key in self._held and key not in self._processing:
            self._release(key)
        return self.add(key)

    def _release(self, key: str) -> None:
        """End `key`'s pace hold now (its heap entry, if any, goes stale)."""
        del self._held[key]
        self._held_adds.pop(key, None)
        self._waiting.pop(key, None)

    def _ready_up(self, key: str) -> bool:
        """`add` without the pace hold: ready now, or once more after `done()` when in flight."""
        if key in self._dirty:
            return False
        self._dirty.add(key)
        if key in self._processing:
            return False
        self._ready.append(key)
        return True

    def add_after(self, key: str, delay: float, *, now: float) -> bool:
        """Queue `key` after `delay` s (not before its pace hold); an earlier pending due time
        wins."""
        due = max(now + delay, self._held.get(key, now))
        if due <= now:
            return self.add(key)
        current = self._waiting.get(key)
        if current is not None and current <= due:
            return False
        self._due_at(key, due)
        return False

    def pace(self, key: str, delay: float, *, now: float, adds: int | None = None) -> None:
        """Hand `key` out next no sooner than `delay` s from `now`, whatever adds it meanwhile
        (an earlier add waits for that time). Meant for the key in flight (its reconcile's
        `Result.pace`); its next hand-out consumes the hold. With `adds`, the hold ends as the
        key is added that many times, counted from its hand-out (those while in flight too):
        a reconcile that waits for N more changes is not held past the last of them."""
        if delay <= 0:
            return
        if adds is not None:
            adds -= self._flight_adds.pop(key, 0)
            if adds <= 0:
                return
            self._held_adds[key] = adds
        held = now + delay
        self._held[key] = held
        current = self._waiting.get(key)
        if current is not None and current < held:
            self._due_at(key, held)

    def _due_at(self, key: str, due: float) -> bool:
        """Set `key`'s delayed due time to `due`; False when it already was."""
        if self._waiting.get(key) == due:
            return False
        self._waiting[key] = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, key))
        return True

    def add_rate_limited(self, key: str, *, now: float) -> float:
        """Requeue after a failure: the longer of per-key backoff and the overall bucket."""
        delay = max(self.backoff.next_delay(key), self.bucket.reserve(now))
        self.add_after(key, delay, now=now)
        return delay

    def forget(self, key: str) -> None:
        """Reset `key`'s backoff after a success."""
        self.backoff.forget(key)

    def promote(self, now: float) -> int:
        """Move delayed keys whose time has come to the ready queue; returns how many."""
        moved = 0
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if self._waiting.get(key) != due:
                continue  # superseded by an earlier due time
            del self._waiting[key]
            moved += int(self._ready_up(key))
        return moved

    def next_due(self) -> float | None:
        while self._heap and self._waiting.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop(self) -> str | None:
        """Hand out the oldest ready key and mark it in flight."""
        if not self._ready:
            return None
        key = self._ready.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        self._held.pop(key, None)
        self._held_adds.pop(key, None)
        self._flight_adds.pop(key, None)
        return key

    def done(self, key: str) -> bool:
        """Finish processing; returns True when the key was re-added meanwhile (queued again:
        ready now, or at its pace hold when its reconcile asked for one)."""
        self._processing.discard(key)
        self._flight_adds.pop(key, None)
        if key not in self._dirty:
            return False
        held = self._held.get(key)
        if held is not None:
            self._dirty.discard(key)
            self._due_at(key, held)
            return True
        self._ready.append(key)
        return True


class ShutDown(Exception):
    """The queue was shut down while waiting for a key."""


class WorkQueue:
    """`QueueCore` plus asyncio waiting: `await get()` returns the next key or raises ShutDown."""

    def __init__(
        self,
        *,
        backoff: Backoff | None = None,
        bucket: TokenBucket | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.core = QueueCore(backoff=backoff, bucket=bucket)
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._closed = False

    def now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def __len__(self) -> int:
        return len(self.core)

    def add(self, key: str) -> None:
        if self.core.add(key):
            self._wakeup.set()

    def rush(self, key: str) -> None:
        if self.core.rush(key):
            self._wakeup.set()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        self.core.add_after(key, delay, now=self.now())
        self._wakeup.set()  # a waiter may need to shorten its timer

    def add_rate_limited(self, key: str) -> float:
        delay = self.core.add_rate_limited(key, now=self.now())
        self._wakeup.set()
        return delay

    def pace(self, key: str, delay: float, *, adds: int | None = None) -> None:
        """Hold `key`'s next hand-out for `delay` s, or until `adds` adds (see
        `QueueCore.pace`)."""
        self.core.pace(key, delay, now=self.now(), adds=adds)
        self._wakeup.set()

    def forget(self, key: str) -> None:
        self.core.forget(key)

    def done(self, key: str) -> None:
        if self.core.done(key):
            self._wakeup.set()

    def shutdown(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def get(self) -> str:
        while True:
            if self._closed:
                raise ShutDown
            self.core.promote(self.now())
            key = self.core.pop()
            if key is not None:
                if len(self.core):
                    self._wakeup.set()  # let another worker take the next one
                return key
            self._wakeup.clear()
            await self._wait(self.core.next_due())

    async def _wait(self, due: float | None) -> None:
        if due is None:
            await self._wakeup.wait()
            return
        timeout = max(0.0, due - self.now())
        try:
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        except TimeoutError:
            pass
