"""Prometheus metrics of the controller manager, served on a loopback port at /metrics.

Counters and histograms are updated by the runner; queue depth, informer restarts and cache
sizes are read at scrape time by a collector, so the hot path pays nothing for them. Each
manager has its own registry (tests run several in one process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.runtime.runner import Controller
from store.informer import Informer

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _LiveCollector(Collector):
    def __init__(
        self,
        controllers: Callable[[], Iterable[Controller]],
        informers: Callable[[], Iterable[Informer[Any]]],
    ) -> None:
        self._controllers = controllers
        self._informers = informers

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("o2_workqueue_depth", "Ready keys", labels=["controller"])
        delayed = GaugeMetricFamily(
            "o2_workqueue_delayed", "Keys waiting for a requeue time", labels=["controller"]
        )
        for ctl in self._controllers():
            depth.add_metric([ctl.name], len(ctl.queue))
            delayed.add_metric([ctl.name], ctl.queue.core.delayed)
        restarts = CounterMetricFamily(
            "o2_watch_restarts", "Watch streams resumed after a failure", labels=["kind"]
        )
        relists = CounterMetricFamily("o2_watch_relists", "Relists", labels=["kind"])
        stalls = CounterMetricFamily("o2_watch_stalls", "Silent watches restarted", labels=["kind"])
        cached = GaugeMetricFamily("o2_cache_objects", "Cached objects", labels=["kind"])
        for inf in self._informers():
            kind = inf.kind.KIND
            restarts.add_metric([kind], inf.watch_restarts)
            relists.add_metric([kind], inf.relists)
            stalls.add_metric([kind], inf.stalls)
            cached.add_metric([kind], len(inf))
        yield from (depth, delayed, restarts, relists, stalls, cached)


class RuntimeMetrics:
    """The manager's metrics; `reconciled()` is the runner's Observer hook."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "o2_reconcile",
            "Reconciles by outcome",
            ["controller", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "o2_reconcile_errors", "Failed reconciles", ["controller"], registry=self.registry
        )
        self.duration = Histogram(
            "o2_reconcile_duration_seconds",
            "Reconcile duration",
            ["controller"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "o2_leader", "1 while this manager leads", ["manager"], registry=self.registry
        )

    def reconciled(self, controller: str, outcome: str, seconds: float) -> None:
        self.reconciles.labels(controller, outcome).inc()
        if outcome in ("error", "fenced"):
            self.errors.labels(controller).inc()
        self.duration.labels(controller).observe(seconds)

    def track(
        self,
        controllers: Callable[[], Iterable[Controller]],
        informers: Callable[[], Iterable[Informer[Any]]],
    ) -> None:
        self.registry.register(_LiveCollector(controllers, informers))

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def serve_metrics(metrics: RuntimeMetrics, *, port: int) -> web.AppRunner:
    """Serve /metrics on 127.0.0.1:`port` (0 picks a free port; see `bound_port`)."""

    async def handle(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("metrics server is not listening")
