"""LocalCluster: one master and N agents (real or hollow) on loopback, in the running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiohttp import web

from localmesos import checkpoint, failover, faults, http_api, views
from localmesos.agent import Agent
from localmesos.config import AgentSpec, AuthConfig, Timers, default_ports
from localmesos.hollow import ResponderFactory
from localmesos.master import Master
from localmesos.model import Executor, ExecutorState, Json

log = logging.getLogger(__name__)


class LocalCluster:
    """A Mesos-compatible cluster for `o2 up` and tests:

    async with LocalCluster(agents=2, hollow_agents=50, port=0) as cluster:
        cluster.address            # "127.0.0.1:PORT", what a scheduler is given
        await cluster.kill_agent(cluster.agent_ids[0])
    """

    def __init__(
        self,
        agents: list[AgentSpec] | int = 1,
        *,
        hollow_agents: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        timers: Timers | None = None,
        work_dir: Path | None = None,
        hollow_responder: ResponderFactory | None = None,
        auth: AuthConfig | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`auth` makes the master and agents authenticate (default: nobody, as Mesos);
        `ssl_context` (server side, with its certificate loaded) serves the master on https."""
        specs = (
            agents
            if isinstance(agents, list)
            else [AgentSpec(hostname=f"agent-{i}", ports=default_ports(i)) for i in range(agents)]
        )
        specs = specs + [
            AgentSpec(hostname=f"hollow-{i}", hollow=True) for i in range(hollow_agents)
        ]
        self.host = host
        self.requested_port = port
        self.master = Master(timers=timers or Timers(), host=host, auth=auth)
        self._ssl = ssl_context
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="localmesos-"))
        self.agents = [
            Agent(
                self.master, spec, index=i + 1, work_dir=self.work_dir, responder=hollow_responder
            )
            for i, spec in enumerate(specs)
        ]
        self._responder = hollow_responder
        self._runner: web.AppRunner | None = None
        self._allocator: asyncio.Task[None] | None = None
        self._master_restart: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return self.master.port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://{self.address}"

    @property
    def agent_ids(self) -> list[str]:
        return [a.agent_id for a in self.agents]

    async def _serve(
        self, app: web.Application, port: int, *, tls: ssl.SSLContext | None = None
    ) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, ssl_context=tls)
        await site.start()
        bound = int(runner.addresses[0][1])
        return runner, bound

    async def start(self) -> None:
        """Serve; with a checkpoint in the work dir (a previous cluster exited keeping its
        executors), first recover its agents, frameworks and tasks, then adopt its executors."""
        doc = checkpoint.load(self.work_dir)
        recovered = checkpoint.restore(self.master, self.agents, doc) if doc else None
        if recovered is not None and recovered.executors:
            await self._reregister_executors(recovered.executors)
        app = http_api.master_app(self.master, work_dir=self.work_dir, control=self)
        self._runner, self.master.port = await self._serve(app, self.requested_port, tls=self._ssl)
        for agent in self.agents:
            await self._register(agent)
        for agent in self.agents:
            agent.updates.resend(agent.tasks.values())
        self._allocator = asyncio.get_running_loop().create_task(self.master.allocation_loop())
        log.info(
            "Local Mesos cluster up",
            extra={
                "url": self.url,
                "agents": sum(not a.hollow for a in self.agents),
                "hollow_agents": sum(a.hollow for a in self.agents),
                "work_dir": str(self.work_dir),
            },
        )

    async def _reregister_executors(self, executors: list[tuple[Agent, Executor]]) -> None:
        """Mesos agent recovery, before the agents register with the master: serve each
        recovered agent, adopt its executors and wait until they have re-subscribed (with
        the updates they could not send meanwhile, e.g. a task that died while the cluster was
        down) or `executor_reregistration_timeout` has passed. So the master, once it serves,
        answers a reconciliation with what the executors reported, not with the checkpoint."""
        for agent in {a.agent_id: a for a, _ in executors if not a.hollow}.values():
            await self._serve_agent(agent)
        for agent, executor in executors:
            agent.adopt(executor)
        waiting = [e for _, e in executors]
        timeout = self.master.timers.executor_reregistration_timeout
        with contextlib.suppress(TimeoutError):
            await self.wait_for(
                lambda: all(e.state is not ExecutorState.RECOVERING for e in waiting),
                within=timeout,
            )
        late = sum(e.state is ExecutorState.RECOVERING for e in waiting)
        log.info(
            "Executors re-registered",
            extra={"executors": len(waiting) - late, "late": late, "timeout": timeout},
        )

    async def _register(self, agent: Agent) -> None:
        if agent.hollow:
            agent.port = self.master.port
        elif agent.http_runner is None:
            await self._serve_agent(agent)
        self.master.agents[agent.agent_id] = agent
        self.master.request_allocation()

    async def _serve_agent(self, agent: Agent) -> None:
        app = http_api.agent_app(agent, work_dir=self.work_dir)
        try:  # a recovered agent comes back on its port: its executors know only that one
            agent.http_runner, agent.port = await self._serve(app, agent.port)
        except OSError as exc:
            log.warning(
                "Agent port taken: its executors cannot re-subscribe",
                extra={"agent": agent.agent_id, "port": agent.port, "error": str(exc)},
            )
            agent.http_runner, agent.port = await self._serve(app, 0)

    async def add_agent(self, spec: AgentSpec) -> Agent:
        """A new agent joins the running cluster (and is offered at once)."""
        agent = Agent(
            self.master,
            spec,
            index=len(self.agents) + 1,
            work_dir=self.work_dir,
            responder=self._responder,
        )
        self.agents.append(agent)
        await self._register(agent)
        log.info("Agent added", extra={"agent": agent.agent_id, "hostname": spec.hostname})
        return agent

    async def stop(self, *, keep_executors: bool = False) -> int:
        """Kill every executor process group, close every stream, stop every server.

        `keep_executors`: write the checkpoint and leave the executors (and their tasks)
        running instead, for the next cluster started on this work dir to adopt; the work dir
        is kept even when it was a temporary one. Returns how many executors were left. Once
        stopped, later calls (`async with` ending after an explicit stop) do nothing."""
        if self._stopped:
            return 0
        self._stopped = True
        if self._master_restart is not None:
            self._master_restart.cancel()
            await asyncio.gather(self._master_restart, return_exceptions=True)
        if self._allocator is not None:
            self._allocator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._allocator
        if keep_executors:
            checkpoint.save(self.master, self.agents, self.work_dir)
        self.master.stop()
        if keep_executors:
            left = sum(await asyncio.gather(*(a.leave() for a in self.agents)))
        else:
            left = 0
            await asyncio.gather(*(a.shutdown() for a in self.agents))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._own_work_dir and not keep_executors:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        log.info("Local Mesos cluster stopped", extra={"executors_left_running": left})
        return left

    async def __aenter__(self) -> LocalCluster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- test control ------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent:
        return self.master.agents[agent_id]

    async def kill_agent(self, agent_id: str) -> None:
        agent = self.agent(agent_id)
        faults.die(agent)
        await agent.stop_http()

    def kill_executor(self, agent_id: str, executor_id: str) -> list[str]:
        return faults.kill_executor(self.agent(agent_id), executor_id)

    async def restart_agent(self, agent_id: str, *, downtime: float = 0.0) -> None:
        """The agent process restarts: its port closes for `downtime` seconds and reopens (same
        id, same port); checkpointing frameworks' executors must re-subscribe (Mesos recovery)."""
        agent = self.agent(agent_id)
        faults.begin_restart(agent)
        await agent.stop_http()
        if downtime > 0:
            await asyncio.sleep(downtime)
        if not agent.hollow:
            app = http_api.agent_app(agent, work_dir=self.work_dir)
            agent.http_runner, _ = await self._serve(app, agent.port)
        faults.end_restart(agent)

    async def restart_master(self, *, downtime: float = 0.0) -> None:
        """The master process restarts (a Mesos master failover, localmesos.failover): its
        port closes for `downtime` seconds (connections refused; the schedulers' streams end),
        then a new master on the same port, rebuilt from its agents' re-registration, serves
        again. Agents, executors and tasks keep running throughout."""
        failover.go_down(self.master)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if downtime > 0:
            await asyncio.sleep(downtime)
        failover.come_back(self.master)
        app = http_api.master_app(self.master, work_dir=self.work_dir, control=self)
        self._runner, _ = await self._serve(app, self.master.port, tls=self._ssl)
        log.info("Master restarted", extra={"url": self.url, "master": self.master.master_id})

    def restart_master_soon(self, *, downtime: float = 0.0) -> bool:
        """`restart_master` in the background (for the control endpoint, whose own connection
        the restart closes); False if a restart is already under way."""
        if self._stopped or (self._master_restart is not None and not self._master_restart.done()):
            return False
        self._master_restart = asyncio.get_running_loop().create_task(
            self.restart_master(downtime=downtime), name="master-restart"
        )
        return True

    def partition_agent(self, agent_id: str) -> None:
        faults.partition(self.agent(agent_id))

    def restore_agent(self, agent_id: str) -> None:
        faults.restore(self.agent(agent_id))

    async def wait_for(self, predicate: Callable[[], bool], *, within: float = 10.0) -> None:
        """Until `predicate()` holds; re-checked on every event and state change, bounded."""
        async with asyncio.timeout(within):
            while not predicate():
                self.master.changed.clear()
                await self.master.changed.wait()

    def state(self) -> Json:
        return views.control_state(self.master)
