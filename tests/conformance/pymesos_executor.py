"""A pymesos custom executor for the conformance test (run as a real executor subprocess).

LAUNCH -> TASK_RUNNING and a framework message "hello <task>"; the message "finish <task>" ->
an echo message and TASK_FINISHED with data "done"; KILL -> TASK_KILLED.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data


class ConformanceExecutor(Executor):  # type: ignore[misc]
    def launchTask(self, driver: Any, task: Any) -> None:
        tid = task["task_id"]["value"]
        driver.sendStatusUpdate({"task_id": {"value": tid}, "state": "TASK_RUNNING"})
        driver.sendFrameworkMessage(encode_data(f"hello {tid}".encode()))

    def frameworkMessage(self, driver: Any, message: str) -> None:
        text = decode_data(message).decode()
        driver.sendFrameworkMessage(encode_data(f"echo {text}".encode()))
        if text.startswith("finish "):
            tid = text.split(" ", 1)[1]
            status = {
                "task_id": {"value": tid},
                "state": "TASK_FINISHED",
                "data": encode_data(b"done"),
            }
            driver.sendStatusUpdate(status)

    def killTask(self, driver: Any, task_id: Any) -> None:
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_KILLED"})


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    print("pymesos executor starting", flush=True)
    driver = MesosExecutorDriver(ConformanceExecutor(), use_addict=True)
    driver.run()
    print("pymesos executor done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
