"""The sample task's data-flow channels: ZeroMQ sockets opened from the `chans.*` properties
pushed at CONFIGURE, as a FairMQ device opens its channels.

Each channel becomes a socket of its declared type (push, pull, pub, sub, pair) that binds or
connects to the pushed address. While RUNNING, every sending socket (push, pub, pair) sends a
small message `MESSAGE_RATE` times a second (dropped, not queued, when no peer takes it); every
receiving socket (pull, sub, pair) counts what arrives from CONFIGURE to RESET/EXIT. `report()`
is the line the sample task prints: `channels sent={"out": 12} received={"in": 11}`.

ZeroMQ is imported when a configuration has channels: most tasks have none, and every task
process would otherwise pay for loading it (~10 ms of CPU and ~3 MB) at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from executor.sdk import channels

if TYPE_CHECKING:
    import zmq.asyncio

MESSAGE_RATE = 20.0
"""Messages a second per sending channel while RUNNING."""
SOCKET_TYPES = frozenset({"push", "pull", "pub", "sub", "pair"})
"""Channel types with a ZeroMQ socket of the same name (zmq.PUSH, ...)."""
SENDS = frozenset({"push", "pub", "pair"})
RECEIVES = frozenset({"pull", "sub", "pair"})


class Channels:
    """The open sockets of one configuration, and what went through them."""

    def __init__(self) -> None:
        self._context: zmq.asyncio.Context | None = None
        self._sockets: dict[str, tuple[str, zmq.asyncio.Socket]] = {}
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self._receivers: list[asyncio.Task[None]] = []
        self._sender: asyncio.Task[None] | None = None

    def open(self, properties: Mapping[str, str]) -> list[str]:
        """Open a socket per pushed channel; `name method address` of each, for the log."""
        self.close()
        wanted = [c for c in channels(properties) if c.type in SOCKET_TYPES]
        if not wanted:
            return []
        import zmq
        import zmq.asyncio

        self._context = zmq.asyncio.Context()
        opened = []
        for channel in wanted:
            kind = getattr(zmq, channel.type.upper())
            sock = self._context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, channel.snd_buf_size)
            sock.setsockopt(zmq.RCVHWM, channel.rcv_buf_size)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            if channel.method == "bind":
                sock.bind(channel.address)
            else:
                sock.connect(channel.address)
            self._sockets[channel.name] = (channel.type, sock)
            opened.append(f"{channel.name} {channel.type} {channel.method} {channel.address}")
            if channel.type in RECEIVES:
                self.received[channel.name] = 0
                task = asyncio.get_running_loop().create_task(self._receive(channel.name, sock))
                self._receivers.append(task)
            if channel.type in SENDS:
                self.sent[channel.name] = 0
        return opened

    def start_sending(self) -> None:
        if self._sender is None and any(t in SENDS for t, _ in self._sockets.values()):
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def stop_sending(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None

    def report(self) -> str:
        sent = json.dumps(self.sent, sort_keys=True)
        received = json.dumps(self.received, sort_keys=True)
        return f"channels sent={sent} received={received}"

    async def aclose(self) -> None:
        await self.stop_sending()
        for task in self._receivers:
            task.cancel()
        await asyncio.gather(*self._receivers, return_exceptions=True)
        self.close()

    def close(self) -> None:
        for task in self._receivers:
            task.cancel()
        self._receivers = []
        for _, sock in self._sockets.values():
            sock.close(linger=0)
        self._sockets = {}
        if self._context is not None:
            self._context.term()
            self._context = None

    async def _send(self) -> None:
        import zmq

        number = 0
        while True:
            number += 1
            for name, (kind, sock) in self._sockets.items():
                if kind not in SENDS:
                    continue
                with contextlib.suppress(zmq.Again):
                    await sock.send(f"{name} {number}".encode(), flags=zmq.NOBLOCK)
                    self.sent[name] += 1
            await asyncio.sleep(1.0 / MESSAGE_RATE)

    async def _receive(self, name: str, sock: zmq.asyncio.Socket) -> None:
        import zmq

        with contextlib.suppress(zmq.ZMQError):
            while True:
                await sock.recv()
                self.received[name] += 1
