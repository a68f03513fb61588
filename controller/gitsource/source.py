"""Where manifests come from: a git repository (controller.gitsource.git) or a plain directory.

A plain directory (a local path that is not a git repository) has no commits: its "commit" is
`dir-<sha256>` of every manifest file under it (path and content), so an unchanged directory
resolves to the same id and a no-op resync stays a no-op. The files read at resolve time are
kept, so what is applied is exactly what was hashed.

Only `spec.path` is read, and nothing outside the directory: `..` and absolute paths are refused,
a symlink that resolves outside it fails the sync with an error naming it, and a directory with
more than MAX_ENTRIES entries is refused instead of walked (a GitSource on `/` stops there).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import OrderedDict
from pathlib import Path, PurePosixPath

from controller.gitsource.git import MANIFEST_SUFFIXES, GitCache, ManifestFile, clean_path
from crds.errors import SourceError
from crds.manifest_limits import oversize_file

DIR_PREFIX = "dir-"
SNAPSHOTS = 8
"""Directory snapshots kept in memory (the newest few ids)."""
MAX_ENTRIES = 20_000
"""Files and directories one directory source may hold under spec.path (hidden ones aside)."""


class Sources:
    """resolve(url, ref) -> commit and read(url, commit, path) for git URLs and directories."""

    def __init__(self, git: GitCache) -> None:
        self.git = git
        self._snapshots: OrderedDict[str, list[ManifestFile]] = OrderedDict()

    async def resolve(self, url: str, ref: str, *, path: str = ".") -> str:
        """The commit to apply; for a directory, its files under `path` are read and kept."""
        if not is_plain_directory(url):
            return await self.git.resolve(url, ref)
        files = await asyncio.to_thread(_read_directory, Path(url), clean_path(path))
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


def _read_directory(base: Path, sub: str) -> list[ManifestFile]:
    """Manifest files under `base/sub`, paths relative to `base`, in path order.

    Hidden entries are skipped and never descended into. Symlinks are followed only while they
    stay inside `base`: one that resolves outside it is a SourceError naming it (nothing from the
    source is applied). A directory reached twice through symlinks is read once.
    """
    real_base = base.resolve()
    start = base / sub
    _check_inside(real_base, start, rel=sub)
    if not start.is_dir():
        raise SourceError(f"spec.path {sub!r} is not a directory under {base}")
    files: list[ManifestFile] = []
    seen: set[Path] = set()
    entries = 0
    for dirpath, dirnames, filenames in os.walk(start, followlinks=True):
        here = Path(dirpath)
        if here.resolve() in seen:
            dirnames[:] = []
            continue
        seen.add(here.resolve())
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        entries += len(dirnames) + len(filenames)
        if entries > MAX_ENTRIES:
            raise SourceError(
                f"{start} holds more than {MAX_ENTRIES:,} entries: point spec.url/spec.path at "
                "the directory of the manifests"
            )
        for name in dirnames:
            _check_inside(real_base, here / name, rel=_rel(here / name, base))
        for name in filenames:
            file = here / name
            if not name.startswith(".") and file.suffix in MANIFEST_SUFFIXES:
                _check_inside(real_base, file, rel=_rel(file, base))
                files.append(_read_file(file, rel=_rel(file, base)))
    return sorted(files, key=lambda f: PurePosixPath(f.path).parts)


def _check_inside(real_base: Path, path: Path, *, rel: str) -> None:
    if not path.resolve().is_relative_to(real_base):
        raise SourceError(
            f"{rel} is a symlink to {path.resolve()}, outside the source directory {real_base}: "
            "o2 reads only files inside it"
        )


def _read_file(file: Path, *, rel: str) -> ManifestFile:
    try:
        too_big = oversize_file(file.stat().st_size, source=rel)
        if too_big is not None:
            raise SourceError(too_big.render())
        return ManifestFile(rel, file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {rel}: {exc}") from exc


def _rel(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix()


def _digest(files: list[ManifestFile]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.path.encode() + b"\0" + f.text.encode() + b"\0")
    return h.hexdigest()[:40]
