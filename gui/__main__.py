"""`python -m gui`: run the GUI server (what `o2 gui` and `o2 up` start). Flags and startup only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from crds.errors import O2Error
from gui.auth import NO_TOKENS, Tokens, parse_tokens
from gui.server import FLUSH_INTERVAL, make_app
from store.config import StoreConfig, open_store

log = logging.getLogger("gui")

DEFAULT_LISTEN = "127.0.0.1:8080"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="o2 gui", description="o2's live web dashboard")
    parser.add_argument("--etcd", help="etcd endpoints (default: $O2_ETCD or 127.0.0.1:2379)")
    parser.add_argument("--prefix", help="key prefix (default: $O2_PREFIX or /o2)")
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"host:port to serve on ({DEFAULT_LISTEN})"
    )
    parser.add_argument(
        "--token-file", type=Path, help="`name:token` lines; without it the GUI is read-only"
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


def load_tokens(path: Path | None) -> Tokens:
    if path is None:
        return NO_TOKENS
    try:
        return parse_tokens(path.read_text(), source=str(path))
    except OSError as exc:
        raise SystemExit(f"--token-file {path}: {exc.strerror}") from exc


async def serve(args: argparse.Namespace) -> None:
    host, port = split_listen(args.listen)
    tokens = load_tokens(args.token_file)
    store = await open_store(StoreConfig.from_env(etcd=args.etcd, prefix=args.prefix))
    app = make_app(store, tokens=tokens, flush_interval=args.flush_ms / 1000)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0] if runner.addresses else (host, port)
    # One machine-readable line on stdout so supervisors (o2 up, tests) learn the real port.
    print(f"o2 gui listening on http://{bound[0]}:{bound[1]}/", flush=True)
    log.info("GUI serving", extra={"listen": f"{bound[0]}:{bound[1]}", "actions": tokens.enabled})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
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
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
