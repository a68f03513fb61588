"""Where manifests come from: a git repository (controller.gitsource.git) or a plain directory.

A plain directory (a local path that is not a git repository) has no commits: its "commit" is
`dir-<sha256>` of every manifest file under it (path and content), so an unchanged directory
resolves to the same id and a no-op resync stays a no-op. The files read at resolve time are
kept, so what is applied is exactly what was hashed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from pathlib import Path, PurePosixPath

from controller.gitsource.git import MANIFEST_SUFFIXES, GitCache, ManifestFile, clean_path
from crds.errors import SourceError

DIR_PREFIX = "dir-"
SNAPSHOTS = 8
"""Directory snapshots kept in memory (the newest few ids)."""


class Sources:
    """resolve(url, ref) -> commit and read(url, commit, path) for git URLs and directories."""

    def __init__(self, git: GitCache) -> None:
        self.git = git
        self._snapshots: OrderedDict[str, list[ManifestFile]] = OrderedDict()

    async def resolve(self, url: str, ref: str) -> str:
        if not is_plain_directory(url):
            return await self.git.resolve(url, ref)
        files = await asyncio.to_thread(_read_directory, Path(url))
        commit = DIR_PREFIX + _digest(files)
        self._snapshots[commit] = files
        self._snapshots.move_to_end(commit)
        while len(self._snapshots) > SNAPSHOTS:
            self._snapshots.popitem(last=False)
        return commit

    async def read(self, url: str, commit: str, *, path: str = ".") -> list[ManifestFile]:
        if not commit.startswith(DIR_PREFIX):
            return await self.git.read(url, commit, path=path)
        files = self._snapshots.get(commit)
        if files is None:
            raise SourceError(f"{url} changed since it was read: sync again")
        root = clean_path(path)
        if root == ".":
            return list(files)
        return [f for f in files if PurePosixPath(f.path).is_relative_to(root)]


def is_plain_directory(url: str) -> bool:
    """A local directory that git would not clone (no work tree, not a bare repository)."""
    if "://" in url:
        return False
    path = Path(url)
    if not path.is_dir():
        return False
    bare = (path / "HEAD").is_file() and (path / "objects").is_dir()
    return not (path / ".git").exists() and not bare


def _read_directory(root: Path) -> list[ManifestFile]:
    files: list[ManifestFile] = []
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root)
        if not file.is_file() or file.suffix not in MANIFEST_SUFFIXES:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read {rel.as_posix()}: {exc}") from exc
        files.append(ManifestFile(rel.as_posix(), text))
    return files


def _digest(files: list[ManifestFile]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.path.encode() + b"\0" + f.text.encode() + b"\0")
    return h.hexdigest()[:40]
