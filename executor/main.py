"""`o2-executor`: the o2 custom Mesos executor program; started by a Mesos agent, never by hand.

One per agent and framework; hosts every o2 task on that agent (see executor.app for what it
does with each event). It stays up while idle and ends on SHUTDOWN, SIGTERM or SIGINT (exit 0,
after killing its tasks), or when the agent is gone beyond MESOS_RECOVERY_TIMEOUT (exit 1;
its tasks are killed, and they would die with it anyway through the parent-death signal).
Exit 2: not started by a Mesos agent, or a malformed O2_EXECUTOR_* setting.
Logs go to stderr as `time level logger message key=value ...` (the sandbox keeps them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from executor.app import EXIT_USAGE, ExecutorApp
from executor.mesos import ExecutorClient
from executor.settings import ExecutorSettings

log = logging.getLogger("executor")

_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """The message, then the record's structured `extra` fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STD_ATTRS}
        return base + "".join(f" {k}={_show(v)}" for k, v in extras.items())


def _show(value: object) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


async def serve(settings: ExecutorSettings) -> int:
    """Run the executor until it should exit; the exit code."""
    client = ExecutorClient(settings.mesos)
    async with client:
        app = ExecutorApp(client, settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, app.request_stop)
        log.info(
            "o2 executor starting",
            extra={
                "executor": settings.mesos.executor_id,
                "framework": settings.mesos.framework_id,
                "agent": settings.mesos.agent_endpoint,
                "pid": os.getpid(),
            },
        )
        return await app.run()


def main() -> None:
    try:
        settings = ExecutorSettings.from_env(os.environ, cwd=Path.cwd())
    except ValueError as exc:
        print(f"o2-executor: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    setup_logging(settings.log_level)
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
