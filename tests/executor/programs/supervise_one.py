"""Test program: supervise one sleeping child (ready -> FIFO), print its pid (parent-death test)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from executor.supervisor import CommandSpec, spawn


async def main(sandbox: str, fifo: str) -> None:
    code = "import sys, time; open(sys.argv[1], 'w').write('ready'); time.sleep(600)"
    command = CommandSpec(value=sys.executable, arguments=("-c", code, fifo))
    process = spawn("orphan-candidate", command, sandbox=Path(sandbox))
    print(process.pid, flush=True)
    await process.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
