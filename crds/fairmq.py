"""FairMQ channel properties (`chans.*`) as AliECS pushes them at CONFIGURE, and the addresses
o2 allocates for inbound channels. Pure.

Keys and values follow AliECS's `core/task/channel` (AliceO2Group/Control), so a FairMQ device
reads them unchanged: per channel `chans.<name>.numSockets = 1` and, under
`chans.<name>.0.`, `address`, `method` (bind/connect), `type`, `transport`, `sndBufSize`,
`rcvBufSize`, `sndKernelSize`/`rcvKernelSize` (0), `rateLogging`, and `autoBind = 0` on the
bind side. The bind side gets `tcp://*:<port>` (all interfaces), the connect side the peer's
`tcp://<host>:<port>`; ipc addresses are the same on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: task processes parse channels without the models
    from crds.kinds.channels import BindChannel, Channel

CHANNEL_PORT_FLOOR = 9000
"""AliECS takes each tcp inbound channel's port as the lowest offered port >= 9000."""
CONTROL_PORT_FLOOR = 30000
"""AliECS takes the OCC control port as the lowest offered port >= 30000 (after the channels)."""
IPC_PREFIX = "@o2ipc-"
"""ipc addresses live in Linux's abstract socket namespace (no file to clean up), as AliECS's
`@o2ipc-<id>`."""


def is_fixed(target: str) -> bool:
    """A literal address (`tcp://...`, `ipc://...`) rather than a peer to resolve."""
    return target.startswith(("tcp://", "ipc://"))


def needs_port(channel: BindChannel) -> bool:
    """An inbound channel whose tcp port o2 takes from the agent's offer."""
    return channel.addressing == "tcp" and not is_fixed(channel.target)


def port_channels(binds: Iterable[BindChannel]) -> list[BindChannel]:
    """The inbound channels that take a port, in declaration order (the allocation order)."""
    return [c for c in binds if needs_port(c)]


def bound_addresses(
    binds: Iterable[BindChannel], *, hostname: str, ports: Iterable[int], launch_id: str
) -> dict[str, str]:
    """Each inbound channel's address as peers connect to it: `tcp://<hostname>:<port>` with
    the next of `ports`, a fixed target (its `*` host made `hostname`), or an ipc address
    unique to this launch (`launch_id` holds the environment's and the task's names)."""
    free = iter(ports)
    out: dict[str, str] = {}
    for channel in binds:
        if is_fixed(channel.target):
            out[channel.name] = channel.target.replace("tcp://*:", f"tcp://{hostname}:", 1)
        elif channel.addressing == "ipc":
            digest = hashlib.sha256(f"{launch_id}:{channel.name}".encode()).hexdigest()[:20]
            out[channel.name] = f"ipc://{IPC_PREFIX}{digest}"
        else:
            out[channel.name] = f"tcp://{hostname}:{next(free)}"
    return out


def bind_side(address: str) -> str:
    """What the binding process binds: a tcp address on all interfaces, an ipc one as is."""
    if address.startswith("tcp://"):
        port = address.rsplit(":", 1)[1]
        return f"tcp://*:{port}"
    return address


def channel_properties(
    channel: Channel, *, method: str, address: str, transport: str
) -> dict[str, str]:
    """The `chans.<name>.*` properties of one channel, as AliECS builds them."""
    prefix = f"chans.{channel.name}.0."
    props = {
        "address": address,
        "method": method,
        "rateLogging": channel.rate_logging,
        "rcvBufSize": channel.rcv_buf_size,
        "rcvKernelSize": "0",
        "sndBufSize": channel.snd_buf_size,
        "sndKernelSize": "0",
        "transport": transport,
        "type": channel.type,
    }
    if method == "bind":
        props["autoBind"] = "0"
    out = {f"chans.{channel.name}.numSockets": "1"}
    out.update({prefix + k: v for k, v in props.items()})
    return out


@dataclass(frozen=True)
class FmqChannel:
    """One channel as a process reads it from its CONFIGURE properties."""

    name: str
    type: str
    method: str
    address: str
    transport: str = "default"
    snd_buf_size: int = 1000
    rcv_buf_size: int = 1000
    rate_logging: int = 0


def parse_channels(properties: Mapping[str, str]) -> list[FmqChannel]:
    """The channels in `chans.<name>.0.*` properties (sorted by name); a channel without an
    address or method is left out, numbers that do not parse take AliECS's defaults."""
    names = sorted(
        {k.split(".")[1] for k in properties if k.startswith("chans.") and k.count(".") >= 2}
    )
    out = []
    for name in names:
        prefix = f"chans.{name}.0."
        address = properties.get(prefix + "address", "")
        method = properties.get(prefix + "method", "")
        if not address or not method:
            continue
        out.append(
            FmqChannel(
                name=name,
                type=properties.get(prefix + "type", ""),
                method=method,
                address=address,
                transport=properties.get(prefix + "transport", "default"),
                snd_buf_size=_int(properties.get(prefix + "sndBufSize"), 1000),
                rcv_buf_size=_int(properties.get(prefix + "rcvBufSize"), 1000),
                rate_logging=_int(properties.get(prefix + "rateLogging"), 0),
            )
        )
    return out


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
