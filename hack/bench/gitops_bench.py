"""GitOps benchmark: sync of a git repository with 500 manifests into etcd, a one-file commit,
and the cost of a no-op resync (target: zero etcd writes), next to the etcd write floor.

`.venv/bin/python -m hack.bench.gitops_bench [--etcd URL] [--manifests N] [--resyncs N]`
prints a table and writes hack/bench/results/gitops_bench.json. The reconciler is called
directly (no workers, no leader election) with a fake monotonic clock, so every call is a due
interval resync that fetches from git; Events are counted, not written. On a shared 2-core
machine the absolute numbers are noisy; compare with the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from controller.gitsource.controller import GitSourceReconciler
from controller.runtime.reconciler import Context
from controller.settings import GitSourceSettings, Settings
from crds.kinds.gitsource import GitSource, GitSourceSpec
from crds.meta import ObjectMeta, utcnow
from crds.resource import Resource
from hack.bench.floor import Floor, measure_floor, print_floor, write_json
from store.config import StoreConfig, open_store
from store.etcd import EtcdStore
from store.informer import InformerFactory

NAME = "bench"
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@o2.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@o2.invalid",
}


class CountingSink:
    """Counts Events instead of writing them (each would be one etcd write)."""

    def __init__(self) -> None:
        self.count = 0

    def event(
        self, obj: Resource, *, reason: str, message: str = "", warning: bool = False
    ) -> None:
        self.count += 1


class JumpingClock:
    """Real wall-clock time; monotonic time that jumps a day per read: every reconcile finds
    the interval due."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        self.seconds += 86400.0
        return self.seconds


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def environment(i: int, *, state: str = "STANDBY") -> str:
    return (
        "apiVersion: o2/v1alpha1\nkind: Environment\n"
        f"metadata: {{name: env-{i:04d}, labels: {{team: t{i % 7}}}}}\n"
        f"spec: {{workflow: readout-{i % 10}, state: {state}, vars: {{rate: '{i}'}}}}\n"
    )


def taskclass(i: int) -> str:
    return (
        "apiVersion: o2/v1alpha1\nkind: TaskClass\n"
        f"metadata: {{name: tc-{i:04d}}}\n"
        "spec: {command: {value: /bin/sleep, arguments: ['1000']}, control: basic,"
        " wants: {cpus: 0.1, memory: 64}}\n"
    )


def make_repo(path: Path, *, manifests: int) -> str:
    """A repository with `manifests` files: a fifth TaskClasses, the rest Environments."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    classes = manifests // 5
    for i in range(classes):
        (path / f"classes/tc-{i:04d}.yaml").parent.mkdir(exist_ok=True)
        (path / f"classes/tc-{i:04d}.yaml").write_text(taskclass(i))
    for i in range(manifests - classes):
        (path / f"envs/env-{i:04d}.yaml").parent.mkdir(exist_ok=True)
        (path / f"envs/env-{i:04d}.yaml").write_text(environment(i))
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


async def timed_reconcile(rec: GitSourceReconciler) -> float:
    start = time.perf_counter()
    await rec.reconcile(NAME)
    return time.perf_counter() - start


async def status_of(store: EtcdStore) -> GitSource:
    return await store.get(GitSource, NAME)


async def run(store: EtcdStore, work: Path, *, manifests: int, resyncs: int) -> dict[str, Any]:
    repo = work / "repo"
    sha = make_repo(repo, manifests=manifests)
    sink = CountingSink()
    factory = InformerFactory(store)
    settings = Settings(gitsource=GitSourceSettings(data_dir=work / "data"))
    ctx = Context(
        store=store,
        kv=store,
        informers=factory,
        events=sink,
        settings=settings,
        clock=JumpingClock(),
    )
    rec = GitSourceReconciler(ctx)
    for watch in rec.all_watches():
        ctx.cache(watch.kind)
    factory.start()
    try:
        await factory.wait_synced()
        spec = GitSourceSpec(url=str(repo), ref="main", interval="1h")
        created = await store.create(GitSource(metadata=ObjectMeta(name=NAME), spec=spec))
        await ctx.cache(GitSource).wait_for_revision(created.metadata.resource_version or 0)
        before = await store.ping()
        first = await timed_reconcile(rec)
        after_first = await store.ping()
        gs = await status_of(store)
        assert gs.status.last_applied_commit == sha, gs.status.message
        noop, noop_writes = await noop_resyncs(store, rec, count=resyncs)
        one, one_writes = await one_file_commit(store, rec, repo)
    finally:
        await factory.stop()
    return {
        "manifests": manifests,
        "initial_sync_s": first,
        "initial_sync_objects_per_s": manifests / first,
        "initial_sync_etcd_writes": after_first - before,
        "noop_resync_ms_p50": statistics.median(noop) * 1000,
        "noop_resync_ms_max": max(noop) * 1000,
        "noop_resync_etcd_writes": noop_writes,
        "one_file_commit_ms": one * 1000,
        "one_file_commit_etcd_writes": one_writes,
        "events_emitted": sink.count,
        "resyncs": resyncs,
    }


async def noop_resyncs(
    store: EtcdStore, rec: GitSourceReconciler, *, count: int
) -> tuple[list[float], int]:
    """`count` due resyncs of an unchanged repository: times, and etcd writes in total."""
    await rec.reconcile(NAME)  # settle (health of freshly created objects)
    before = await store.ping()
    times = [await timed_reconcile(rec) for _ in range(count)]
    return times, await store.ping() - before


async def one_file_commit(
    store: EtcdStore, rec: GitSourceReconciler, repo: Path
) -> tuple[float, int]:
    (repo / "envs/env-0000.yaml").write_text(environment(0, state="CONFIGURED"))
    git(repo, "commit", "--quiet", "-am", "one change")
    before = await store.ping()
    seconds = await timed_reconcile(rec)
    return seconds, await store.ping() - before


async def bench(endpoint: str, *, manifests: int, resyncs: int) -> dict[str, Any]:
    floor = await measure_floor(endpoint, quick=True)
    prefix = f"/bench-gitops-{os.getpid()}"
    store = await open_store(StoreConfig(endpoints=(endpoint,), prefix=prefix))
    try:
        with tempfile.TemporaryDirectory(prefix="o2-gitops-bench-") as tmp:
            result = await run(store, Path(tmp), manifests=manifests, resyncs=resyncs)
    finally:
        await store.close()
    return {**result, "floor": asdict(floor), "targets": {"noop_resync_etcd_writes": 0}}


def print_table(result: dict[str, Any], floor: Floor) -> None:
    n = result["manifests"]
    rows = [
        (f"initial sync of {n} manifests, s", f"{result['initial_sync_s']:.2f}"),
        ("initial sync, objects/s", f"{result['initial_sync_objects_per_s']:,.0f}"),
        ("initial sync, etcd writes", f"{result['initial_sync_etcd_writes']:,}"),
        ("  vs floor: sequential puts/s", f"{floor.puts_seq:,.0f}"),
        ("  vs floor: puts/s, 16 in flight", f"{floor.puts_16:,.0f}"),
        ("no-op resync (fetch+plan) p50 ms", f"{result['noop_resync_ms_p50']:.1f}"),
        ("no-op resync max ms", f"{result['noop_resync_ms_max']:.1f}"),
        (
            f"no-op resyncs x{result['resyncs']}: etcd writes (target 0)",
            f"{result['noop_resync_etcd_writes']}",
        ),
        ("one-file commit sync ms", f"{result['one_file_commit_ms']:.1f}"),
        ("one-file commit etcd writes", f"{result['one_file_commit_etcd_writes']}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'gitops'.ljust(width)}  value")
    for label, value in rows:
        print(f"{label.ljust(width)}  {value:>10}")


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    if args.etcd:
        return await bench(args.etcd, manifests=args.manifests, resyncs=args.resyncs)
    from store.embedded import EmbeddedEtcd, free_port

    with tempfile.TemporaryDirectory(prefix="o2-gitops-etcd-") as tmp:
        async with EmbeddedEtcd(Path(tmp) / "etcd", free_port(), free_port()) as etcd:
            return await bench(etcd.endpoint, manifests=args.manifests, resyncs=args.resyncs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--etcd", help="use an existing etcd instead of a private one")
    parser.add_argument("--manifests", type=int, default=500)
    parser.add_argument("--resyncs", type=int, default=10)
    args = parser.parse_args(argv)
    result = asyncio.run(_main(args))
    floor = Floor(**result["floor"])
    print_floor(floor)
    print_table(result, floor)
    path = write_json("gitops_bench", result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
