"""`o2 get -w` shows a change made by `etcdctl put` within 100 ms (measured here)."""

from __future__ import annotations

import json
import time

from store.embedded import etcd_binary
from tests.cli.conftest import O2, Child, spawn
from tests.cli.test_read_commands import env_doc, put_env

STARTUP_ALLOWANCE = 30.0
"""Generous: interpreter start and imports on a loaded 2-core box; not part of the measurement."""
LATENCY_BUDGET = 0.100


def ready_txn(etcdctl: Child) -> None:
    """Bring an interactive `etcdctl txn` to its put prompt, so the put costs no start-up."""
    assert etcdctl.proc.stdin is not None
    etcdctl.proc.stdin.write("\n")  # no compares
    etcdctl.proc.stdin.flush()
    etcdctl.out.wait_for("success requests", within=10)


def test_get_watch_shows_an_etcdctl_put_within_100ms(o2: O2) -> None:
    put_env(o2, "alpha")
    etcdctl_argv = [str(etcd_binary("etcdctl")), f"--endpoints={o2.endpoint}", "txn", "-i"]
    with (
        spawn(o2.argv("get", "env", "-w"), env=o2.subprocess_env()) as watcher,
        spawn(etcdctl_argv) as etcdctl,
    ):
        ready_txn(etcdctl)
        watcher.out.wait_for("alpha", within=STARTUP_ALLOWANCE)
        time.sleep(0.2)  # the watch stream opens right after the listing is printed
        value = json.dumps(env_doc("alpha", state="RUNNING"))
        assert etcdctl.proc.stdin is not None
        started = time.monotonic()
        etcdctl.proc.stdin.write(f"put {o2.key('environments', 'alpha')} {json.dumps(value)}\n\n\n")
        etcdctl.proc.stdin.flush()
        shown = watcher.out.wait_for("RUNNING", within=5)
        etcdctl.out.wait_for("OK", within=5)
    delay = shown - started
    print(f"get -w: etcdctl put -> printed row in {delay * 1000:.1f} ms")
    assert delay < LATENCY_BUDGET, f"row shown {delay * 1000:.1f} ms after the put"


def test_get_watch_reports_garbage_and_keeps_watching(o2: O2) -> None:
    put_env(o2, "alpha")
    with spawn(o2.argv("get", "env", "-w", "-o", "name"), env=o2.subprocess_env()) as watcher:
        watcher.out.wait_for("environment/alpha", within=STARTUP_ALLOWANCE)
        time.sleep(0.2)
        o2.etcdctl("put", o2.key("environments", "junk"), "garbage")
        watcher.err.wait_for(o2.key("environments", "junk"), within=5)
        put_env(o2, "beta")
        watcher.out.wait_for("environment/beta", within=5)
