"""`python -m localmesos`: run the local Mesos cluster in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from pathlib import Path

from localmesos.cluster import LocalCluster
from localmesos.config import (
    AgentSpec,
    AuthConfig,
    Timers,
    default_ports,
    load_agents_file,
    load_credentials,
)
from localmesos.hollow import load_responder
from procutil.gc import tune_gc

_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value ...` with the record's structured extras."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STD_ATTRS}
        return base + "".join(f" {k}={v}" for k, v in extras.items())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localmesos",
        description=__doc__,
        epilog="SIGINT/SIGTERM kill every executor; SIGUSR1 exits leaving checkpointing "
        "executors running, checkpointed in --work-dir: a cluster started again on it adopts "
        "them (same agent ids and ports) if they re-subscribe within --recovery-timeout.",
    )
    parser.add_argument("--port", type=int, default=5050, help="master port (0: any free port)")
    parser.add_argument("--agents", type=int, default=None, help="real agents (default 1)")
    parser.add_argument("--hollow-agents", type=int, default=0, help="simulated agents")
    parser.add_argument("--agents-file", type=Path, help="YAML list of agents")
    parser.add_argument("--heartbeat-interval", type=float, default=15.0, help="seconds")
    parser.add_argument(
        "--executor-delay", type=float, default=0.0, help="hollow executors' reply delay, seconds"
    )
    parser.add_argument("--allocation-interval", type=float, default=1.0, help="seconds")
    parser.add_argument(
        "--update-retry",
        type=float,
        default=10.0,
        help="first retry of an unacknowledged status update, seconds",
    )
    parser.add_argument(
        "--shutdown-grace", type=float, default=5.0, help="executor shutdown grace period, seconds"
    )
    parser.add_argument(
        "--registration-timeout",
        type=float,
        default=60.0,
        help="seconds an executor has to subscribe",
    )
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        default=900.0,
        help="seconds a checkpointing executor has to re-subscribe after an agent restart",
    )
    parser.add_argument(
        "--reregistration-timeout",
        type=float,
        default=5.0,
        help="seconds a restarted cluster's agents wait for their executors to re-subscribe "
        "before registering with the master (Mesos --executor_reregistration_timeout)",
    )
    parser.add_argument("--hollow-responder", help="package.module:factory for hollow executors")
    parser.add_argument("--work-dir", type=Path, help="sandboxes (default: a temporary dir)")
    parser.add_argument(
        "--credentials",
        type=Path,
        help="principal/secret file: scheduler calls then need HTTP Basic credentials from it",
    )
    parser.add_argument(
        "--authenticate-executors",
        action="store_true",
        help="agents give each executor a token and refuse executor calls without it",
    )
    parser.add_argument("--ssl-cert", type=Path, help="PEM certificate: serve the master on https")
    parser.add_argument("--ssl-key", type=Path, help="PEM private key of --ssl-cert")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def build_cluster(args: argparse.Namespace) -> LocalCluster:
    specs: list[AgentSpec] = load_agents_file(args.agents_file) if args.agents_file else []
    count = args.agents if args.agents is not None else (0 if specs else 1)
    specs += [
        AgentSpec(hostname=f"agent-{i}", ports=default_ports(i))
        for i in range(len(specs), len(specs) + count)
    ]
    timers = Timers(
        heartbeat_interval=args.heartbeat_interval,
        allocation_interval=args.allocation_interval,
        update_retry_initial=args.update_retry,
        executor_shutdown_grace=args.shutdown_grace,
        executor_registration_timeout=args.registration_timeout,
        executor_recovery_timeout=args.recovery_timeout,
        executor_reregistration_timeout=args.reregistration_timeout,
        hollow_executor_delay=args.executor_delay,
    )
    responder = load_responder(args.hollow_responder) if args.hollow_responder else None
    auth = AuthConfig(
        credentials=load_credentials(args.credentials) if args.credentials else {},
        authenticate_executors=args.authenticate_executors,
    )
    return LocalCluster(
        specs,
        hollow_agents=args.hollow_agents,
        port=args.port,
        timers=timers,
        work_dir=args.work_dir,
        hollow_responder=responder,
        auth=auth,
        ssl_context=server_tls(args.ssl_cert, args.ssl_key),
    )


def server_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The master's TLS context from `--ssl-cert`/`--ssl-key` (both or neither)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("--ssl-cert and --ssl-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(cluster: LocalCluster) -> None:
    """Until SIGINT/SIGTERM (kill every executor) or SIGUSR1 (leave them running, checkpointed
    in the work dir for the next cluster started on it to adopt)."""
    stop = asyncio.Event()
    keep = False

    def keep_and_stop() -> None:
        nonlocal keep
        keep = True
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, keep_and_stop)
    await cluster.start()
    print(f"localmesos master listening on {cluster.url}", flush=True)
    try:
        await stop.wait()
    finally:
        if keep:
            logging.getLogger("localmesos").info("Stopping: leaving the executors running")
        else:
            logging.getLogger("localmesos").info("Stopping: killing every executor")
        left = await cluster.stop(keep_executors=keep)
        if keep:
            wait = cluster.master.timers.executor_recovery_timeout
            print(
                f"localmesos: {left} executors left running; they wait {wait:g}s for a cluster "
                f"started with --work-dir {cluster.work_dir}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    try:
        cluster = build_cluster(args)
    except (OSError, ValueError) as exc:
        print(f"localmesos: {exc}", file=sys.stderr)
        return 2
    tune_gc()
    asyncio.run(serve(cluster))
    return 0


if __name__ == "__main__":
    sys.exit(main())
