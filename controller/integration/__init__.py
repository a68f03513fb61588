"""Integration plugins: the functions `func:` hooks call (AliECS's core/integration). I/O.

A plugin function is a plain callable `f(call: PluginCall)`: it gets the call's variable stack
read-only, its timeout and the plugins' settings, returns the variables to merge into the
environment (status.pluginVars) as a `Mapping[str, str]` ({} or None when none), its output as
a `str` (AliECS's functions return text: what a call's `return:` variable receives; "" when it
returns variables only), or both as a `PluginResult`; and raises PluginError (or any exception)
to fail the hook. Functions are found by name through the entry points of
crds.plugins (`o2.plugins`, `<plugin>.<Function>` -> `module:attribute`) and imported on first
use. They block (gRPC, sleeps): `call_plugin` runs them in a worker thread of a pool of their
own, never on the event loop, and stops waiting at the call's timeout (the thread is left to
finish; a function should bound its own I/O by `call.timeout`, as the DCS client does).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

from crds.errors import PluginError
from crds.plugins import known_functions

log = logging.getLogger(__name__)

POOL_SIZE = 16
"""Plugin calls running at once; more wait for a free thread (their timeout runs meanwhile)."""


@dataclass(frozen=True)
class PluginSettings:
    """Where the plugins reach their external systems (controller flags, see settings)."""

    dcs_endpoint: str = ""
    """host:port of the DCS Configurator gRPC service; empty: DCS calls fail saying so."""


@dataclass(frozen=True)
class PluginCall:
    """What a plugin function gets."""

    vars: Mapping[str, str]
    """The call's variable stack (read-only): the role's variables, `environment_id`,
    `run_number` while a run exists, the plugins' earlier variables, `__call_*` facts."""
    timeout: float
    """Seconds the call may take."""
    settings: PluginSettings


@dataclass(frozen=True)
class PluginResult:
    """What a plugin call gave: the variables to merge and its output text."""

    vars: Mapping[str, str] = field(default_factory=dict)
    output: str = ""


PluginFunction = Callable[[PluginCall], Mapping[str, str] | str | PluginResult | None]


def resolve(name: str) -> PluginFunction:
    """The function `<plugin>.<Function>`; PluginError when it is not installed or fails to
    import."""
    target = known_functions().get(name)
    if target is None:
        raise PluginError(f"{name}: no such plugin function is installed")
    module_name, _, attribute = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{name}: cannot load {target}: {exc}") from exc
    if not callable(function):
        raise PluginError(f"{name}: {target} is not callable")
    return function  # type: ignore[no-any-return]


class PluginCaller:
    """Runs plugin functions off the event loop, each bounded by its timeout."""

    def __init__(self, settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self._pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="o2-plugin")

    async def call(
        self, name: str, variables: Mapping[str, str], *, seconds: float
    ) -> PluginResult:
        """The variables and output `name` returned; PluginError on failure or past
        `seconds`."""
        timeout = seconds
        function = resolve(name)
        request = PluginCall(MappingProxyType(dict(variables)), timeout, self.settings)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, function, request)
        try:
            async with asyncio.timeout(timeout):
                returned = await asyncio.shield(future)
        except TimeoutError as exc:
            raise PluginError(f"{name}() timed out after {timeout:g}s") from exc
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"{name}() failed: {type(exc).__name__}: {exc}") from exc
        return _variables(name, returned)

    def close(self) -> None:
        """Stop taking calls; running ones are not waited for."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _variables(name: str, returned: object) -> PluginResult:
    if returned is None:
        return PluginResult()
    if isinstance(returned, str):
        return PluginResult(output=returned)
    if isinstance(returned, PluginResult):
        return PluginResult(_mapping(name, returned.vars), str(returned.output))
    return PluginResult(_mapping(name, returned))


def _mapping(name: str, returned: object) -> dict[str, str]:
    if not isinstance(returned, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in returned.items()
    ):
        raise PluginError(
            f"{name}() returned {type(returned).__name__}, not a str -> str mapping, a str or "
            "a PluginResult"
        )
    return dict(returned)
