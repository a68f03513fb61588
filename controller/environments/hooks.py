"""Run call-role hooks as argv subprocesses on the controller host, with a timeout. I/O.

No shell: the rendered argv is executed as is. Each hook runs in its own session; on timeout
its whole process group gets SIGKILL. Output (stdout and stderr merged) is captured and its
tail kept for the status message and the Event. A hook started at one step and awaited at a
later one is kept as an asyncio task keyed by (environment uid, transition start, hook path);
if the controller restarted in between, the await step runs it again (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass

from controller.environments.expand import Hook

log = logging.getLogger(__name__)

OUTPUT_TAIL = 2048
"""Characters of output kept per hook."""


@dataclass(frozen=True)
class HookResult:
    """How a hook ended: `ok`, the exit code (None on timeout or spawn failure), output tail."""

    hook: Hook
    ok: bool
    exit_code: int | None
    output: str
    message: str


async def run_hook(hook: Hook) -> HookResult:
    """Run `hook` to completion or timeout; never raises for a failing hook."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *hook.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:  # missing program, no permission, NUL in argv
        return HookResult(hook, False, None, "", f"cannot start {hook.argv[0]!r}: {exc}")
    try:
        async with asyncio.timeout(hook.timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        return HookResult(hook, False, None, "", f"timed out after {hook.timeout:g}s")
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
        raise
    text = out.decode(errors="replace")[-OUTPUT_TAIL:]
    code = proc.returncode
    ok = code == 0
    tail = text.strip()[-200:]
    message = ("succeeded" if ok else f"exit code {code}") + (f": {tail}" if tail else "")
    log.info("Hook finished", extra={"hook": hook.path, "exit_code": code, "argv": hook.argv})
    return HookResult(hook, ok, code, text, message)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


HookKey = tuple[str, str, str]


class HookRunner:
    """Starts hooks and awaits them, possibly at a later step (see the module docstring)."""

    def __init__(self) -> None:
        self._running: dict[HookKey, asyncio.Task[HookResult]] = {}

    def start(self, key: HookKey, hook: Hook) -> None:
        """Start `hook` in the background unless it is already running under `key`."""
        if key not in self._running:
            self._running[key] = asyncio.create_task(run_hook(hook), name=f"hook-{hook.path}")

    async def wait(self, key: HookKey, hook: Hook) -> HookResult:
        """The result of the hook started under `key` (run now if it was never started here)."""
        self.start(key, hook)
        task = self._running[key]
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._running.pop(key, None)

    def prune(self, uid: str, *, keep: str) -> None:
        """Forget (and kill) hooks of environment `uid` that belong to another transition than
        the one that started at `keep` ("" when none is in progress)."""
        for key in [k for k in self._running if k[0] == uid and k[1] != keep]:
            self._running.pop(key).cancel()

    def __len__(self) -> int:
        return len(self._running)

    async def close(self) -> None:
        """Cancel every hook still running (their processes are killed)."""
        tasks = list(self._running.values())
        self._running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
