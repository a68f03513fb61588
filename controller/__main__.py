"""`python -m controller`: run the controller manager in the foreground (JSON logs on stderr)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from controller.manager import DEFAULT_MANAGER, Manager, ManagerConfig
from controller.runtime.leader import LeaderConfig
from controller.settings import FLAGS, Settings
from crds.errors import O2Error
from mesosapi.auth import plaintext_credentials_warning
from procutil.gc import tune_gc
from store.config import StoreConfig, open_store, read_private_file

log = logging.getLogger("controller")

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


EPILOG = """Each controller setting is read once at startup: its flag when given (also as 0),
else its $O2_* variable when set and not empty, else the default."""


def parse_args(
    argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None
) -> argparse.Namespace:
    """The flags, and `args.settings` built from them and `env` (default: os.environ)."""
    p = argparse.ArgumentParser(prog="o2 controller", description=__doc__, epilog=EPILOG)
    p.add_argument("--etcd", help="etcd endpoints, comma-separated (default: $O2_ETCD)")
    p.add_argument("--prefix", help="key prefix (default: $O2_PREFIX or /o2)")
    p.add_argument("--etcd-cacert", help="CA bundle for etcd TLS (default: $O2_ETCD_CACERT)")
    p.add_argument("--etcd-cert", help="client certificate (default: $O2_ETCD_CERT)")
    p.add_argument("--etcd-key", help="client key (default: $O2_ETCD_KEY)")
    p.add_argument("--etcd-user", help="etcd user (password only via $O2_ETCD_PASSWORD)")
    p.add_argument("--metrics-port", type=int, help="serve /metrics on 127.0.0.1:PORT (0: any)")
    p.add_argument("--id", dest="identity", help="this manager's identity (default host-pid)")
    p.add_argument("--name", default=DEFAULT_MANAGER, help="leader lease name (<prefix>/leases/…)")
    p.add_argument("--lease-ttl", type=int, default=15, help="leader lease TTL, seconds")
    p.add_argument("--renew-deadline", type=float, default=None, help="seconds (default 2/3 TTL)")
    p.add_argument("--retry-period", type=float, default=None, help="seconds (default TTL/7.5)")
    p.add_argument("--controller", action="append", default=[], help="module:Class (repeatable)")
    p.add_argument("--log-level", default="INFO")
    for title, flags in FLAGS.items():
        group = p.add_argument_group(title)
        for flag in flags:
            group.add_argument(
                flag.option,
                dest=flag.dest,
                metavar=flag.metavar,
                help=f"{flag.help} (default: ${flag.env}, else {flag.default})",
            )
    args = p.parse_args(argv)
    try:
        args.settings = Settings.load(
            vars(args), os.environ if env is None else env, read_secret=_read_mesos_secret
        )
    except (ValueError, O2Error) as exc:
        p.error(str(exc))
    return args


def _read_mesos_secret(path: Path) -> str:
    """The secret file's first line; refused when group or others may read it."""
    return read_private_file(path, what="Mesos framework secret")


def manager_config(args: argparse.Namespace) -> ManagerConfig:
    ttl = args.lease_ttl
    leader = LeaderConfig(
        ttl=ttl,
        renew_deadline=args.renew_deadline or ttl * 2 / 3,
        retry_period=args.retry_period or ttl / 7.5,
    )
    config = ManagerConfig(
        lease_name=args.name,
        leader=leader,
        controllers=tuple(args.controller),
        metrics_port=args.metrics_port,
        settings=args.settings,
    )
    if args.identity:
        config = dataclasses.replace(config, identity=args.identity)
    return config


async def amain(args: argparse.Namespace) -> None:
    config = StoreConfig.from_env(
        etcd=args.etcd,
        prefix=args.prefix,
        ca_file=args.etcd_cacert,
        cert_file=args.etcd_cert,
        key_file=args.etcd_key,
        username=args.etcd_user,
    )
    store = await open_store(config)
    tasks = args.settings.tasks
    mesos_warning = plaintext_credentials_warning(tasks.masters, tasks.access)
    if mesos_warning is not None:
        log.warning(mesos_warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Manager(store, store, config=manager_config(args)).run(stop)
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    tune_gc()
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
