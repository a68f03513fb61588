"""HTTP surface (aiohttp): master endpoints, per-agent executor endpoints, files, test control."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from localmesos import authn, calls, executor_api, faults, monitor, views
from localmesos.agent import Agent
from localmesos.config import AgentSpec, agent_from_dict
from localmesos.master import Master, SubscribeRefused
from localmesos.model import ExecutorState, Json, get_value
from localmesos.streams import EventStream

log = logging.getLogger(__name__)

MASTER_KEY = web.AppKey("master", Master)
AGENT_KEY = web.AppKey("agent", Agent)
WORK_DIR_KEY = web.AppKey("work_dir", Path)


class ClusterControl(Protocol):
    """What the test-control endpoints need from the cluster (LocalCluster implements it)."""

    async def add_agent(self, spec: AgentSpec) -> Agent: ...
    async def kill_agent(self, agent_id: str) -> None: ...
    async def restart_agent(self, agent_id: str, *, downtime: float = 0.0) -> None: ...
    def restart_master_soon(self, *, downtime: float = 0.0) -> bool: ...


CONTROL_KEY: web.AppKey[ClusterControl] = web.AppKey("control")
MAX_READ = 1024 * 1024


async def _json_body(request: web.Request) -> Json:
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ctype not in ("application/json", ""):
        raise web.HTTPUnsupportedMediaType(text=f"Unsupported content type {ctype}; use JSON")
    try:
        body = json.loads(await request.read())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"Failed to parse body into JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise web.HTTPBadRequest(text="Expecting a JSON object with 'type'")
    return body


def _ok_json(data: Any) -> web.Response:
    return web.json_response(data)


# -- master ----------------------------------------------------------------------------------------


async def scheduler(request: web.Request) -> web.StreamResponse:
    master = request.app[MASTER_KEY]
    principal = authn.authenticate_framework(request, master.auth.credentials)
    body = await _json_body(request)
    if body["type"] == "SUBSCRIBE":
        info = (body.get("subscribe") or {}).get("framework_info") or {}
        authn.check_principal(principal, info if isinstance(info, dict) else {})
        return await _subscribe(request, master, body)
    fw = master.frameworks.get(get_value(body, "framework_id") or "")
    if fw is None:
        raise web.HTTPBadRequest(text="Framework cannot be found")
    authn.check_principal(principal, fw.info)
    if not fw.connected or fw.stream is None:
        raise web.HTTPForbidden(text="Framework is not subscribed")
    if request.headers.get("Mesos-Stream-Id") != fw.stream.stream_id:
        raise web.HTTPBadRequest(text="The stream ID included in this request didn't match")
    try:
        status = calls.handle_call(master, fw, body)
    except calls.InvalidCall as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return web.Response(status=status)


async def _subscribe(request: web.Request, master: Master, body: Json) -> web.StreamResponse:
    if "Mesos-Stream-Id" in request.headers:
        raise web.HTTPBadRequest(text="Subscribe calls should not include the 'Mesos-Stream-Id'")
    try:
        fw, stream = master.subscribe(body)
    except SubscribeRefused as exc:
        refused = EventStream(name="refused subscription")
        refused.send({"type": "ERROR", "error": {"message": str(exc)}})
        refused.close()
        return await refused.run(request, headers={})
    try:
        return await stream.run(request, headers={"Mesos-Stream-Id": stream.stream_id})
    finally:
        master.disconnected(fw, stream)


async def operator(request: web.Request) -> web.Response:
    master = request.app[MASTER_KEY]
    body = await _json_body(request)
    kind = body["type"]
    if kind == "GET_AGENTS":
        return _ok_json(views.get_agents(master))
    if kind == "GET_TASKS":
        return _ok_json(views.get_tasks(master))
    if kind == "GET_FRAMEWORKS":
        return _ok_json(views.get_frameworks(master))
    if kind == "GET_VERSION":
        return _ok_json({"type": "GET_VERSION", "get_version": {"version_info": views.version()}})
    if kind == "GET_HEALTH":
        return _ok_json({"type": "GET_HEALTH", "get_health": {"healthy": True}})
    raise web.HTTPNotImplemented(text=f"localmesos does not serve operator call {kind}")


async def version(request: web.Request) -> web.Response:
    return _ok_json(views.version())


async def master_state(request: web.Request) -> web.Response:
    return _ok_json(views.state(request.app[MASTER_KEY]))


async def master_slaves(request: web.Request) -> web.Response:
    data = views.slaves(request.app[MASTER_KEY])
    wanted = request.query.get("slave_id")
    if wanted:
        data["slaves"] = [s for s in data["slaves"] if s["id"] == wanted]
    return _ok_json(data)


async def redirect(request: web.Request) -> web.Response:
    master = request.app[MASTER_KEY]
    raise web.HTTPTemporaryRedirect(location=f"//{master.host}:{master.port}")


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


# -- monitor -----------------------------------------------------------------------------------


async def agent_statistics(request: web.Request) -> web.Response:
    """Mesos /monitor/statistics of one real agent, read from /proc (localmesos.monitor)."""
    agent = request.app[AGENT_KEY]
    live = [e for e in agent.executors.values() if e.state is not ExecutorState.TERMINATED]
    return _ok_json(await asyncio.to_thread(monitor.real_entries, live))


async def hollow_statistics(request: web.Request) -> web.Response:
    """/monitor/statistics on the master port, which the hollow agents share: their simulated
    executors, zero usage, each entry naming its `agent_id`."""
    master = request.app[MASTER_KEY]
    hollow = [a for a in master.agents.values() if a.hollow and not a.dead]
    return _ok_json(monitor.hollow_entries(e for a in hollow for e in a.executors.values()))


# -- files -----------------------------------------------------------------------------------------


def _sandbox_path(request: web.Request) -> Path:
    raw = request.query.get("path")
    if not raw:
        raise web.HTTPBadRequest(text="Expecting 'path' in query")
    root = request.app[WORK_DIR_KEY].resolve()
    path = Path(raw).resolve()
    if path != root and root not in path.parents:
        raise web.HTTPNotFound(text="File not found")
    if not path.exists():
        raise web.HTTPNotFound(text="File not found")
    return path


async def files_read(request: web.Request) -> web.Response:
    """Mesos /files/read: `{data, offset}`; offset=-1 returns the size with no data."""
    path = _sandbox_path(request)
    if path.is_dir():
        raise web.HTTPBadRequest(text="Cannot read a directory")
    try:
        offset = int(request.query.get("offset", "0"))
        length = int(request.query.get("length", str(MAX_READ)))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"Failed to parse offset/length: {exc}") from exc
    size = path.stat().st_size
    if offset == -1:
        return _ok_json({"data": "", "offset": size})
    if offset < 0 or length < 0:
        raise web.HTTPBadRequest(text="Negative offset or length")
    with path.open("rb") as handle:
        handle.seek(min(offset, size))
        data = handle.read(min(length, MAX_READ))
    return _ok_json({"data": data.decode("utf-8", errors="replace"), "offset": offset})


async def files_browse(request: web.Request) -> web.Response:
    path = _sandbox_path(request)
    if not path.is_dir():
        raise web.HTTPBadRequest(text="Not a directory")
    out = []
    for child in sorted(path.iterdir()):
        st = child.stat()
        out.append(
            {
                "path": str(child),
                "nlink": st.st_nlink,
                "size": st.st_size,
                "mtime": st.st_mtime,
                "mode": stat.filemode(st.st_mode),
                "uid": str(st.st_uid),
                "gid": str(st.st_gid),
            }
        )
    return _ok_json(out)


# -- agents ----------------------------------------------------------------------------------------


async def executor_endpoint(request: web.Request) -> web.StreamResponse:
    agent = request.app[AGENT_KEY]
    body = await _json_body(request)
    kind = body["type"]
    if agent.master.auth.authenticate_executors:
        fid, eid = get_value(body, "framework_id") or "", get_value(body, "executor_id") or ""
        authn.authenticate_executor(request, agent.find_executor(fid, eid))
    try:
        if kind == "SUBSCRIBE":
            stream = executor_api.subscribe(agent, body)
            executor = agent.find_executor(
                get_value(body, "framework_id") or "", get_value(body, "executor_id") or ""
            )
            try:
                return await stream.run(request, headers={})
            finally:
                if executor is not None:
                    executor_api.stream_closed(executor, stream)
        if kind == "UPDATE":
            executor_api.update(agent, body)
        elif kind == "MESSAGE":
            executor_api.message(agent, body)
        elif kind != "HEARTBEAT":
            raise web.HTTPNotImplemented(text=f"Unknown executor call {kind}")
    except executor_api.ExecutorCallError as exc:
        raise _error(exc) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=f"Invalid {kind} call: {exc}") from exc
    return web.Response(status=202)


def _error(exc: executor_api.ExecutorCallError) -> web.HTTPException:
    if exc.status == 403:
        return web.HTTPForbidden(text=str(exc))
    return web.HTTPBadRequest(text=str(exc))


# -- test control (not Mesos) ------------------------------------------------------------------


def _agent(request: web.Request) -> Agent:
    agent = request.app[MASTER_KEY].agents.get(request.match_info["agent_id"])
    if agent is None:
        raise web.HTTPNotFound(text="Unknown agent")
    return agent


async def control_state(request: web.Request) -> web.Response:
    return _ok_json(views.control_state(request.app[MASTER_KEY]))


async def control_agent(request: web.Request) -> web.Response:
    agent = _agent(request)
    action = request.match_info["action"]
    if action == "kill":
        await request.app[CONTROL_KEY].kill_agent(agent.agent_id)
    elif action == "restart":
        try:
            downtime = float(request.query.get("downtime", "0"))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"Bad downtime: {exc}") from exc
        await request.app[CONTROL_KEY].restart_agent(agent.agent_id, downtime=downtime)
    elif action == "partition":
        faults.partition(agent)
    elif action == "restore":
        faults.restore(agent)
    else:
        raise web.HTTPNotFound(text=f"Unknown agent action {action}")
    return _ok_json({"agent_id": agent.agent_id, "reachable": agent.reachable})


def _downtime(request: web.Request) -> float:
    try:
        downtime = float(request.query.get("downtime", "0"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"Bad downtime: {exc}") from exc
    if not 0 <= downtime <= 3600:
        raise web.HTTPBadRequest(text=f"Bad downtime {downtime}: give 0 to 3600 seconds")
    return downtime


async def control_restart_master(request: web.Request) -> web.StreamResponse:
    """Answered (202) before the master goes: the restart closes this connection too. The
    master refuses connections for `downtime` seconds, then serves again (poll /version)."""
    downtime = _downtime(request)
    master = request.app[MASTER_KEY]
    if not master.up:
        raise web.HTTPConflict(text="The master is already restarting")
    resp = web.json_response({"master": master.master_id, "downtime": downtime}, status=202)
    await resp.prepare(request)
    await resp.write_eof()
    if not request.app[CONTROL_KEY].restart_master_soon(downtime=downtime):
        log.warning("Master restart not started: one is under way or the cluster stops")
    return resp


async def control_add_agent(request: web.Request) -> web.Response:
    """Body: one agents-file entry, `{hostname, resources, attributes, hollow}`."""
    try:
        spec = agent_from_dict(0, await request.json())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    agent = await request.app[CONTROL_KEY].add_agent(spec)
    return _ok_json({"agent_id": agent.agent_id, "port": agent.port})


async def control_kill_executor(request: web.Request) -> web.Response:
    agent = _agent(request)
    killed = faults.kill_executor(agent, request.match_info["executor_id"])
    if not killed:
        raise web.HTTPNotFound(text="Unknown executor")
    return _ok_json({"killed": killed})


async def control_disconnect(request: web.Request) -> web.Response:
    fw = request.app[MASTER_KEY].frameworks.get(request.match_info["framework_id"])
    if fw is None or fw.stream is None:
        raise web.HTTPNotFound(text="Unknown or disconnected framework")
    fw.stream.close()
    return _ok_json({"framework_id": fw.framework_id})


async def control_rescind(request: web.Request) -> web.Response:
    master = request.app[MASTER_KEY]
    offer = master.offers.get(request.match_info["offer_id"])
    if offer is None:
        raise web.HTTPNotFound(text="Unknown offer")
    master.drop_offer(offer)
    fw = master.frameworks.get(offer.framework_id)
    if fw is not None:
        master.send(fw, {"type": "RESCIND", "rescind": {"offer_id": {"value": offer.offer_id}}})
    return _ok_json({"offer_id": offer.offer_id})


def master_app(master: Master, *, work_dir: Path, control: ClusterControl) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[MASTER_KEY] = master
    app[CONTROL_KEY] = control
    app[WORK_DIR_KEY] = work_dir
    app.router.add_post("/api/v1/scheduler", scheduler)
    app.router.add_post("/api/v1", operator)
    app.router.add_post("/api/v1/{tail:.*}", operator)
    app.router.add_get("/version", version)
    for prefix in ("/master", ""):
        app.router.add_get(f"{prefix}/state", master_state)
        app.router.add_get(f"{prefix}/state.json", master_state)
        app.router.add_get(f"{prefix}/slaves", master_slaves)
        app.router.add_get(f"{prefix}/redirect", redirect)
        app.router.add_get(f"{prefix}/health", health)
    app.router.add_get("/files/read", files_read)
    app.router.add_get("/files/read.json", files_read)
    app.router.add_get("/files/browse", files_browse)
    app.router.add_get("/files/browse.json", files_browse)
    app.router.add_get("/monitor/statistics", hollow_statistics)
    app.router.add_get("/monitor/statistics.json", hollow_statistics)
    app.router.add_get("/localmesos/state", control_state)
    app.router.add_post("/localmesos/agents", control_add_agent)
    app.router.add_post("/localmesos/master/restart", control_restart_master)
    app.router.add_post("/localmesos/agents/{agent_id}/{action}", control_agent)
    app.router.add_post(
        "/localmesos/agents/{agent_id}/executors/{executor_id}/kill", control_kill_executor
    )
    app.router.add_post("/localmesos/frameworks/{framework_id}/disconnect", control_disconnect)
    app.router.add_post("/localmesos/offers/{offer_id}/rescind", control_rescind)
    return app


def agent_app(agent: Agent, *, work_dir: Path) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[AGENT_KEY] = agent
    app[WORK_DIR_KEY] = work_dir
    app.router.add_post("/api/v1/executor", executor_endpoint)
    app.router.add_get("/monitor/statistics", agent_statistics)
    app.router.add_get("/monitor/statistics.json", agent_statistics)
    app.router.add_get("/files/read", files_read)
    app.router.add_get("/files/read.json", files_read)
    app.router.add_get("/files/browse", files_browse)
    return app
