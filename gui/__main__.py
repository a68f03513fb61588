"""`python -m gui`: run the GUI server (what `o2 gui` and `o2 up` start). Flags and startup only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from crds.errors import O2Error
from gui.auth import (
    LOOPBACK_PROXIES,
    NO_TOKENS,
    ROLES,
    Network,
    Tokens,
    TrustedHeader,
    check_private,
    parse_proxy,
    parse_tokens,
    parse_users,
)
from gui.guard import LOOPBACK_NAMES, HostPolicy
from gui.hub import CLIENT_BUFFER, MAX_CLIENTS
from gui.server import FLUSH_INTERVAL, make_app
from gui.server import serve as run_app
from store.config import StoreConfig, open_store

log = logging.getLogger("gui")

DEFAULT_LISTEN = "127.0.0.1:8080"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="o2 gui", description="o2's live web dashboard")
    parser.add_argument("--etcd", help="etcd endpoints (default: $O2_ETCD or 127.0.0.1:2379)")
    parser.add_argument("--prefix", help="key prefix (default: $O2_PREFIX or /o2)")
    parser.add_argument("--cacert", help="CA bundle to verify etcd (TLS); or $O2_ETCD_CACERT")
    parser.add_argument("--cert", help="client certificate for etcd; or $O2_ETCD_CERT")
    parser.add_argument("--key", help="client key for etcd; or $O2_ETCD_KEY")
    parser.add_argument(
        "--user", help="etcd user; or $O2_ETCD_USER (password only from $O2_ETCD_PASSWORD)"
    )
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"host:port to serve on ({DEFAULT_LISTEN})"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        help="`name:token` lines (mode 600), each holder an admin; without it (and "
        "--users-file) the GUI is read-only",
    )
    parser.add_argument(
        "--users-file",
        type=Path,
        help="`name:role:sha256:<hex>` lines (mode 600): per-user hashed tokens with a role "
        "(viewer looks; shifter creates environments, acts on them and changes its own "
        "presets; admin also does node operations and changes others' presets)",
    )
    parser.add_argument(
        "--read-token-file",
        type=Path,
        help="`name:token` lines (mode 600); with it, reading the feed needs a token too",
    )
    parser.add_argument(
        "--trust-user-header",
        metavar="NAME",
        help="sign users in by this request header (X-Remote-User, X-Forwarded-User) set by "
        "a reverse proxy doing SSO; their role comes from a `name:role` line of --users-file, "
        "else --sso-default-role. The header counts only on requests from --trusted-proxy "
        "addresses (loopback by default); tokens keep working",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="address or CIDR block (10.0.0.5, 10.0.0.0/24, ::1) of the reverse proxy whose "
        "--trust-user-header header is believed; from other peers it is ignored. Repeatable; "
        "default 127.0.0.1 and ::1. Needed with --listen on a non-loopback address",
    )
    parser.add_argument(
        "--sso-default-role",
        choices=ROLES,
        default="viewer",
        help="role of a header-signed-in user the users file does not list (viewer)",
    )
    parser.add_argument(
        "--public-name",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="a name browsers reach this GUI by besides 127.0.0.1/localhost/[::1] "
        "(e.g. behind a reverse proxy); other Host/Origin values get 421. Repeatable",
    )
    parser.add_argument(
        "--max-clients",
        type=int,
        default=MAX_CLIENTS,
        help=f"live pages at once ({MAX_CLIENTS}); more get 503. RSS stays under about "
        "base + 2 snapshots + 8 MiB + 128 KiB per page (157 MB measured with 10,000 tasks "
        "and 200 pages that never read)",
    )
    parser.add_argument(
        "--client-buffer-mib",
        type=float,
        default=CLIENT_BUFFER / 2**20,
        help=f"a page this far behind is dropped ({CLIENT_BUFFER // 2**20} MiB); it reconnects",
    )
    parser.add_argument(
        "--flush-ms", type=float, default=FLUSH_INTERVAL * 1000, help="delta coalescing window"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"--listen {listen!r}: expected host:port, e.g. {DEFAULT_LISTEN}")
    return host.strip("[]"), int(port)


def load_tokens(path: Path | None, *, flag: str = "--token-file") -> Tokens:
    """The tokens in `path`; refused when others on the machine could read them."""
    if path is None:
        return NO_TOKENS
    parse = parse_users if flag == "--users-file" else parse_tokens
    try:
        check_private(path.stat().st_mode, source=str(path))
        return parse(path.read_text(), source=str(path))
    except OSError as exc:
        raise SystemExit(f"{flag} {path}: {exc.strerror}") from exc


def trusted_proxies(args: argparse.Namespace, host: str) -> tuple[Network, ...]:
    """The --trusted-proxy networks (loopback when none). Refused: a bad address, and
    --trust-user-header served beyond loopback with no proxy named: the proxy is then surely
    elsewhere, and the loopback default would believe no one (or, before, everyone)."""
    try:
        given = tuple(parse_proxy(text) for text in args.trusted_proxy)
    except ValueError as exc:
        raise SystemExit(f"--trusted-proxy: {exc}; give an address or CIDR block") from None
    if args.trust_user_header and host not in LOOPBACK_NAMES and not given:
        raise SystemExit(
            f"--trust-user-header with --listen {args.listen} (not loopback) needs "
            "--trusted-proxy ADDR naming the reverse proxy's address (or CIDR block): "
            "the user header is believed only from it"
        )
    return given or LOOPBACK_PROXIES


async def serve(args: argparse.Namespace) -> None:
    host, port = split_listen(args.listen)
    proxies = trusted_proxies(args, host)
    tokens = load_tokens(args.token_file).merged(load_tokens(args.users_file, flag="--users-file"))
    read_tokens = load_tokens(args.read_token_file, flag="--read-token-file")
    sso = (
        TrustedHeader(args.trust_user_header, tokens.roles, args.sso_default_role, proxies)
        if args.trust_user_header
        else None
    )
    config = StoreConfig.from_env(
        etcd=args.etcd,
        prefix=args.prefix,
        ca_file=args.cacert,
        cert_file=args.cert,
        key_file=args.key,
        username=args.user,
    )
    store = await open_store(config)
    app = make_app(
        store,
        tokens=tokens,
        read_tokens=read_tokens,
        policy=HostPolicy.build(listen_host=host, public_names=tuple(args.public_name)),
        sso=sso,
        flush_interval=args.flush_ms / 1000,
        max_clients=args.max_clients,
        client_buffer=int(args.client_buffer_mib * 2**20),
    )
    log.info(
        "GUI starting",
        extra={
            "actions": tokens.enabled or sso is not None,
            "read_token": read_tokens.enabled,
            "sso_header": args.trust_user_header,
            "trusted_proxies": [str(p) for p in proxies] if sso is not None else [],
        },
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_app(app, host=host, port=port, stop=stop)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(serve(args))
    except O2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
