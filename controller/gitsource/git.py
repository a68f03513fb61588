"""The git CLI adapter: the only module that runs `git` (asyncio subprocess, argv, no shell).

One bare repository per source URL under a cache directory; every fetch names the URL on the
command line, so credentials in it are never written to the repository's config. Messages
(errors, logs) carry URLs with their userinfo stripped. Manifests are read at a commit through
`git archive`, in memory: no work tree, nothing to clean up. Symlinks in the repository are
never followed (an archive holds the link, not its target): they are skipped like other
non-files, so a link cannot reach outside the repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import re
import signal
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from controller.settings import GitSourceSettings
from crds.errors import FieldError, SourceError, ValidationError
from crds.manifest_limits import oversize_file
from procutil import signal_group

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
"""As `o2 apply -f DIR` (store.apply): the files read under spec.path."""
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
            data = await self._run(
                repo, "archive", "--format=tar", commit, *spec, what=f"read {path} at {commit}"
            )
            try:
                return _manifests_in_tar(data, root=sub)
            except tarfile.ReadError as exc:
                # an empty tree archives as a lone pax header, which tarfile refuses
                listing = await self._run(repo, "ls-tree", commit, *spec, what="list the tree")
                if not listing.strip():
                    return []
                raise SourceError(f"git archive of {commit} is unreadable: {exc}") from exc

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

    async def _run(self, repo: Path | None, *args: str, what: str) -> bytes:
        """Run git (argv, no shell, no prompt); SourceError with git's redacted message."""
        argv = [self.git, *(["--git-dir", str(repo)] if repo is not None else []), *args]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_git_env(),
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await proc.communicate()
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


def _manifests_in_tar(data: bytes, *, root: str) -> list[ManifestFile]:
    files: list[ManifestFile] = []
    errors: list[FieldError] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            if not member.isfile() or not _wanted(member.name, root=root):
                continue
            too_big = oversize_file(member.size, source=member.name)
            if too_big is not None:
                errors.append(too_big)
                continue
            handle = tar.extractfile(member)
            raw = handle.read() if handle is not None else b""
            try:
                files.append(ManifestFile(member.name, raw.decode("utf-8")))
            except UnicodeDecodeError as exc:
                errors.append(FieldError(path="", source=member.name, message=f"not UTF-8: {exc}"))
    if errors:
        raise ValidationError(errors)
    return sorted(files, key=lambda f: f.path)


def _wanted(name: str, *, root: str) -> bool:
    rel = PurePosixPath(name)
    if root != ".":
        try:
            rel = rel.relative_to(root)
        except ValueError:
            return False
    return rel.suffix in MANIFEST_SUFFIXES and not any(p.startswith(".") for p in rel.parts)
