"""Data-flow channels of tasks (FairMQ channels, as AliECS declares them). Pure.

A task role or TaskClass `bind`s inbound channels (o2 allocates their address: a tcp port from
the agent's offered port ranges, or an ipc path unique per environment) and `connect`s outbound
channels to a bound peer named by `target`: `path.to.role:channel` (a role path, usually
written with `{{ Up(2).Path }}` / `{{ Parent().Path }}`), `::alias` (a bind's `global` alias),
or a fixed `tcp://host:port` / `ipc://path`. Field names and defaults follow AliECS's
`core/task/channel` (AliceO2Group/Control), so its workflow files read unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from crds.kinds.common import TemplateValue
from crds.meta import O2Model


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


ChannelType = Annotated[Literal["push", "pull", "pub", "sub", "pair"], BeforeValidator(_lower)]
"""The ZeroMQ socket pattern of the channel (AliECS accepts push, pull, pub, sub; FairMQ pair)."""
Transport = Annotated[Literal["default", "zeromq", "shmem", "nanomsg"], BeforeValidator(_lower)]
"""FairMQ transport; `default` lets the device choose."""
Addressing = Annotated[Literal["tcp", "ipc"], BeforeValidator(_lower)]
"""How a bound address is made: a tcp port on the agent, or an ipc path."""


class Channel(O2Model):
    """What inbound and outbound channels share."""

    name: str = Field(min_length=1)
    """The channel name the process knows (FairMQ `chans.<name>`)."""
    type: ChannelType
    """push, pull, pub, sub or pair."""
    transport: Transport = "default"
    """default, zeromq, shmem or nanomsg."""
    snd_buf_size: TemplateValue = "1000"
    """Send buffer size in messages (AliECS default 1000); a template."""
    rcv_buf_size: TemplateValue = "1000"
    """Receive buffer size in messages (AliECS default 1000); a template."""
    rate_logging: TemplateValue = "0"
    """Seconds between FairMQ rate log lines (0: off); a template."""
    target: TemplateValue = ""
    """Connect: the bound peer (`role.path:channel`, `::alias`, `tcp://h:p`, `ipc://p`).
    Bind: an optional fixed address (`tcp://...` or `ipc://...`) instead of an allocated one."""


class BindChannel(Channel):
    """An inbound channel: o2 allocates its address and peers connect to it."""

    addressing: Addressing = "tcp"
    """tcp (a port from the agent's offered ranges) or ipc (a path unique per environment)."""
    global_: TemplateValue = Field(default="", alias="global")
    """An alias other roles may connect to as `::<alias>`, whatever their role path; two binds
    with the same alias in one environment are an error."""


class ConnectChannel(Channel):
    """An outbound channel: connects to the peer its `target` names."""
