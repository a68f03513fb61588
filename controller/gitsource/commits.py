"""What a GitSource's newest commit holds: resolve its ref, read the files, parse them once.

The reconciler (controller.gitsource.controller) decides when to look; this reads. Git and
directory I/O through controller.gitsource.source; parsing runs off the event loop (a large
commit must not delay the leader lease), and each parse is kept (the last PARSED_CACHE), so a
no-op resync re-parses nothing. AliECS constructs a parse ignored are handed, once per parse,
to `on_ignored`. No store.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from controller.gitsource.manifests import describe_warnings, parse_source
from controller.gitsource.source import Sources
from crds.errors import ValidationError
from crds.kinds.gitsource import GitSource
from crds.resource import Resource

PARSED_CACHE = 32
"""Parsed commits kept in memory (a no-op resync re-parses nothing)."""


@dataclass(frozen=True)
class Fetched:
    """The newest commit of a source's spec, read and parsed (or the reason it is invalid)."""

    spec_key: tuple[str, str, str, str]
    at: float
    commit: str
    desired: list[Resource] | ValidationError


class Commits:
    """Resolves, reads and parses the commits of GitSources, each parse kept."""

    def __init__(self, sources: Sources, *, on_ignored: Callable[[GitSource, str], None]) -> None:
        self.git = sources
        self._on_ignored = on_ignored
        self._parsed: OrderedDict[tuple[str, str, str, str], list[Resource] | ValidationError] = (
            OrderedDict()
        )

    async def fetch(self, gs: GitSource, *, at: float) -> Fetched:
        """Resolve the spec's ref to its newest commit and parse it (`at`: the fetch's time)."""
        spec = gs.spec
        commit = await self.git.resolve(spec.url, spec.ref, path=spec.path)
        desired = await self.parse(gs, commit)
        return Fetched((spec.url, spec.ref, spec.path, spec.format), at, commit, desired)

    async def parse(self, gs: GitSource, commit: str) -> list[Resource] | ValidationError:
        """The manifests at `commit`, parsed once per (url, commit, path, format)."""
        spec = gs.spec
        parsed_key = (spec.url, commit, spec.path, spec.format)
        desired = self._parsed.get(parsed_key)
        if desired is None:
            try:
                desired = await self._read(gs, commit)
            except ValidationError as exc:
                desired = exc
            self._parsed[parsed_key] = desired
            while len(self._parsed) > PARSED_CACHE:
                self._parsed.popitem(last=False)
        return desired

    async def _read(self, gs: GitSource, commit: str) -> list[Resource]:
        """Read and parse `commit`; AliECS constructs ignored are reported once per parse."""
        spec = gs.spec
        files = await self.git.read(spec.url, commit, path=spec.path)
        # off the event loop: parsing a large commit must not delay the leader lease
        objs, warnings = await asyncio.to_thread(
            parse_source, files, fmt=spec.format, root=spec.path
        )
        if warnings:
            message = describe_warnings(warnings, commit=commit)
            self._on_ignored(gs, message)
        return objs
