"""The git CLI adapter: the only module that runs `git` (asyncio subprocess, argv, no shell).

One bare repository per source URL under a cache directory; every fetch names the URL on the
command line, so credentials in it are never written to the repository's config. Messages
(errors, logs) carry URLs with their userinfo stripped. Manifests are read at a commit straight
from the object store: `git ls-tree -l` lists the files under the path with their sizes, and
only the manifest files within the bounds are read (`git cat-file --batch`): no work tree,
nothing to clean up, and a large binary next to the manifests is never read. An oversize
manifest is refused from its listed size before it is read; at most MAX_FILES manifests are
read per sync. Symlinks in the repository are never followed (the tree holds the link, not its
target): they are skipped like other non-files, so a link cannot reach outside the repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from controller.settings import GitSourceSettings
from crds.errors import FieldError, SourceError, ValidationError
from crds.manifest_limits import oversize_file
from procutil import signal_group

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
"""As `o2 apply -f DIR` (store.apply): the files read under spec.path."""
MAX_FILES = 20_000
"""Manifest files one sync may read (as directory sources: MAX_ENTRIES of gitsource.source)."""
_REGULAR = (b"100644", b"100755")
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_HEADS = "refs/o2/heads"
_TAGS = "refs/o2/tags"


def redact(text: str) -> str:
    """`text` with the userinfo of every URL removed (`https://user:tok@h/r` -> `https://h/r`)."""
    return _USERINFO.sub(r"\g<scheme>", text)


@dataclass(frozen=True)
class ManifestFile:
    """One manifest file at a commit: its path inside the repository and its text."""

    path: str
    text: str


class GitCache:
    """Bare clones under `root`, one per URL; calls on one URL are serialized."""

    def __init__(
        self, root: Path, *, timeout: float = GitSourceSettings.git_timeout, git: str = "git"
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.git = git
        self._locks: dict[Path, asyncio.Lock] = {}

    def repo_dir(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()[:20]
        return self.root / f"{digest}.git"

    async def resolve(self, url: str, ref: str) -> str:
        """Fetch `url` and return the commit `ref` (branch, tag or commit) points at."""
        repo = self.repo_dir(url)
        async with self._lock(repo):
            await self._ensure_repo(repo)
            if _FULL_SHA.match(ref) and await self._rev_parse(repo, ref):
                return ref  # a commit never moves: no fetch needed
            await self._fetch(repo, url)
            commit = await self._lookup(repo, ref)
            if commit is None and _FULL_SHA.match(ref):
                await self._run(repo, "fetch", "--no-tags", "--", url, ref, what=f"fetch {ref}")
                commit = await self._rev_parse(repo, ref)
        if commit is None:
            raise SourceError(
                f"ref {ref!r} is not a branch, tag or commit of {redact(url)}: "
                "set spec.ref to one that exists"
            )
        return commit

    async def read(self, url: str, commit: str, *, path: str = ".") -> list[ManifestFile]:
        """Every manifest file under `path` at `commit`, sorted; hidden entries skipped."""
        repo = self.repo_dir(url)
        sub = clean_path(path)
        spec = [] if sub == "." else ["--", sub]
        async with self._lock(repo):
            await self._ensure_repo(repo)
            if await self._rev_parse(repo, commit) is None:
                await self._fetch(repo, url)
            listing = await self._run(
                repo, "ls-tree", "-r", "-l", "-z", commit, *spec, what=f"list {path} at {commit}"
            )
            if not listing and sub != ".":
                raise SourceError(f"git read {path} at {commit}: pathspec {sub!r} did not match")
            wanted, errors = _manifest_blobs(listing, root=sub)
            if errors:
                raise ValidationError(errors)
            if not wanted:
                return []
            ids = b"".join(oid + b"\n" for oid, _ in wanted)
            blobs = await self._run(
                repo, "cat-file", "--batch", what=f"read {path} at {commit}", stdin=ids
            )
            return _files(blobs, [name for _, name in wanted])

    def _lock(self, repo: Path) -> asyncio.Lock:
        return self._locks.setdefault(repo, asyncio.Lock())

    async def _ensure_repo(self, repo: Path) -> None:
        if (repo / "HEAD").exists():
            return
        repo.parent.mkdir(parents=True, exist_ok=True)
        await self._run(None, "init", "--quiet", "--bare", str(repo), what="create the cache")

    async def _fetch(self, repo: Path, url: str) -> None:
        await self._run(
            repo,
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            "--force",
            "--",
            url,
            f"+refs/heads/*:{_HEADS}/*",
            f"+refs/tags/*:{_TAGS}/*",
            what=f"fetch {redact(url)}",
        )

    async def _lookup(self, repo: Path, ref: str) -> str | None:
        candidates = [f"{_HEADS}/{ref}", f"{_TAGS}/{ref}"]
        if _HEX.match(ref):
            candidates.append(ref)
        for candidate in candidates:
            commit = await self._rev_parse(repo, candidate)
            if commit is not None:
                return commit
        return None

    async def _rev_parse(self, repo: Path, rev: str) -> str | None:
        try:
            out = await self._run(
                repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", what="resolve"
            )
        except SourceError:
            return None
        return out.decode().strip() or None

    async def _run(
        self, repo: Path | None, *args: str, what: str, stdin: bytes | None = None
    ) -> bytes:
        """Run git (argv, no shell, no prompt) with `stdin`; SourceError with git's redacted
        message."""
        argv = [self.git, *(["--git-dir", str(repo)] if repo is not None else []), *args]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_git_env(),
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await proc.communicate(stdin)
        except TimeoutError as exc:
            await _kill(proc)
            raise SourceError(f"git {what}: timed out after {self.timeout:g}s") from exc
        except BaseException:
            await _kill(proc)
            raise
        if proc.returncode != 0:
            message = redact(err.decode(errors="replace").strip()) or f"exit {proc.returncode}"
            log.debug("git failed", extra={"what": what, "error": message})
            raise SourceError(f"git {what}: {message}")
        return out


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"})
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill git and whatever it started (its own session), then reap it."""
    if proc.returncode is None:
        signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        await proc.wait()


def clean_path(path: str) -> str:
    """spec.path as a repository-relative POSIX path; `..` and absolute paths are refused."""
    parts = [p for p in PurePosixPath(path.strip() or ".").parts if p not in (".", "/")]
    if any(p == ".." for p in parts) or path.strip().startswith("/"):
        raise SourceError(f"spec.path {path!r} must be a directory inside the repository")
    return "/".join(parts) or "."


def _manifest_blobs(
    listing: bytes, *, root: str
) -> tuple[list[tuple[bytes, str]], list[FieldError]]:
    """(object id, path) of the manifest files in `git ls-tree -r -l -z` output, sorted by path,
    and an error for each one over the size bound (from its listed size, unread)."""
    wanted: list[tuple[bytes, str]] = []
    errors: list[FieldError] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_name = entry.partition(b"\t")
        mode, kind, oid, size = meta.split()
        name = raw_name.decode("utf-8", errors="replace")
        if kind != b"blob" or mode not in _REGULAR or not _wanted(name, root=root):
            continue
        too_big = oversize_file(int(size), source=name)
        if too_big is not None:
            errors.append(too_big)
            continue
        wanted.append((oid, name))
    if len(wanted) > MAX_FILES:
        message = (
            f"more than {MAX_FILES:,} manifest files under {root!r}: point spec.path at the "
            "directory that holds this source's manifests"
        )
        errors.append(FieldError(path="", source=root, message=message))
    return sorted(wanted, key=lambda item: item[1]), errors


def _files(blobs: bytes, names: list[str]) -> list[ManifestFile]:
    """The `git cat-file --batch` answer for `names` (in the order asked), as ManifestFiles."""
    files: list[ManifestFile] = []
    errors: list[FieldError] = []
    offset = 0
    for name in names:
        header_end = blobs.index(b"\n", offset)
        size = int(blobs[offset:header_end].split()[2])
        raw = blobs[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        try:
            files.append(ManifestFile(name, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            errors.append(FieldError(path="", source=name, message=f"not UTF-8: {exc}"))
    if errors:
        raise ValidationError(errors)
    return files


def _wanted(name: str, *, root: str) -> bool:
    rel = PurePosixPath(name)
    if root != ".":
        try:
            rel = rel.relative_to(root)
        except ValueError:
            return False
    return rel.suffix in MANIFEST_SUFFIXES and not any(p.startswith(".") for p in rel.parts)
