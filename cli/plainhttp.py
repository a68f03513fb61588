"""One HTTP/1.1 POST over a plain socket: what cli.etcdgateway needs from `http.client`,
without importing it (it brings `email` and `ssl`: a third of a raw `o2 get`). TLS endpoints
use `http.client`; this module never does TLS. Edge I/O.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping


class PlainHTTPError(OSError):
    """The server closed early, answered with something that is not HTTP/1.x, or too late."""


def post(
    host: str, port: int, path: str, body: bytes, headers: Mapping[str, str], *, deadline: float
) -> tuple[int, bytes]:
    """The status and body of `POST path` (one connection, closed after the answer), within
    `deadline` (time.monotonic)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["Connection: close", "", ""]
    with _connect(host, port, deadline=deadline) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1") + body)
        raw = _read_all(sock, deadline=deadline)
    return parse_response(raw)


def _connect(host: str, port: int, *, deadline: float) -> socket.socket:
    """A connected socket; the host as ASCII bytes, so that no IDNA codec is loaded."""
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    last: OSError = PlainHTTPError(f"cannot resolve {host}")
    for family, kind, proto, _, address in socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_left(deadline))
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise last


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise PlainHTTPError("timed out")
    return left


def _read_all(sock: socket.socket, *, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        sock.settimeout(_left(deadline))
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parse_response(raw: bytes) -> tuple[int, bytes]:
    """Status and body of a whole HTTP/1.x response (Content-Length, chunked, or to the end)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise PlainHTTPError(f"not an HTTP answer: {raw[:80]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return int(parts[1]), dechunk(rest)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or len(rest) < int(length):
            raise PlainHTTPError("the answer ended early")
        rest = rest[: int(length)]
    return int(parts[1]), rest


def dechunk(data: bytes) -> bytes:
    """The body of a `Transfer-Encoding: chunked` message (trailers ignored). Reads by offset:
    etcd's gateway sends a large answer in thousands of chunks, and slicing off the rest after
    each one copied the whole remainder every time (quadratic: ~30 s for 100 MB)."""
    body: list[memoryview] = []
    view, at = memoryview(data), 0
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            raise PlainHTTPError("the chunked answer ended early")
        size_text = data[at:line_end].split(b";", 1)[0].strip()
        if not size_text:
            raise PlainHTTPError("the chunked answer ended early")
        size = int(size_text, 16)
        if size == 0:
            return b"".join(body)
        at = line_end + 2
        if len(data) < at + size + 2:
            raise PlainHTTPError("the chunked answer ended early")
        body.append(view[at : at + size])
        at += size + 2
