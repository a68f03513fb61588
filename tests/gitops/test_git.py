"""The git adapter against real repositories: refs, reading trees, credentials, timeouts."""

from __future__ import annotations

import os
import stat
import tracemalloc
from pathlib import Path

import pytest

from controller.gitsource.git import GitCache, redact
from controller.gitsource.source import is_plain_directory
from crds.errors import SourceError, ValidationError
from procutil import alive
from store.embedded import free_port
from tests.gitops.conftest import Repo


@pytest.fixture
def cache(tmp_path: Path) -> GitCache:
    return GitCache(tmp_path / "cache", timeout=20)


async def test_branch_tag_and_commit_resolve_to_the_same_commit(
    cache: GitCache, repo: Repo
) -> None:
    repo.write("a.yaml", "a: 1\n")
    sha = repo.commit()
    repo.git("tag", "v1")
    url = str(repo.path)
    assert await cache.resolve(url, "main") == sha
    assert await cache.resolve(url, "v1") == sha
    assert await cache.resolve(url, sha[:10]) == sha
    assert await cache.resolve(url, sha) == sha


async def test_branch_follows_new_commits_and_old_commits_stay_readable(
    cache: GitCache, repo: Repo
) -> None:
    repo.write("a.yaml", "a: 1\n")
    first = repo.commit()
    url = str(repo.path)
    assert await cache.resolve(url, "main") == first
    repo.write("a.yaml", "a: 2\n")
    second = repo.commit()
    assert await cache.resolve(url, "main") == second
    assert [f.text for f in await cache.read(url, first)] == ["a: 1\n"]
    assert [f.text for f in await cache.read(url, second)] == ["a: 2\n"]


async def test_unknown_ref_is_a_clear_error(cache: GitCache, repo: Repo) -> None:
    repo.commit("empty")
    with pytest.raises(SourceError, match="'nope' is not a branch, tag or commit"):
        await cache.resolve(str(repo.path), "nope")


async def test_only_manifests_under_path_are_read_hidden_entries_skipped(
    cache: GitCache, repo: Repo
) -> None:
    repo.write("envs/b.yaml", "b\n")
    repo.write("envs/sub/a.yml", "a\n")
    repo.write("envs/c.json", "{}\n")
    repo.write("envs/.hidden.yaml", "h\n")
    repo.write("envs/.git-crypt/x.yaml", "h\n")
    repo.write("envs/notes.txt", "n\n")
    repo.write("other/d.yaml", "d\n")
    sha = repo.commit()
    files = await cache.read(str(repo.path), sha, path="envs")
    assert [f.path for f in files] == ["envs/b.yaml", "envs/c.json", "envs/sub/a.yml"]
    everything = await cache.read(str(repo.path), sha, path=".")
    assert "other/d.yaml" in [f.path for f in everything]


async def test_path_outside_the_repository_or_missing_is_refused(
    cache: GitCache, repo: Repo
) -> None:
    repo.write("a.yaml", "a\n")
    sha = repo.commit()
    with pytest.raises(SourceError, match="inside the repository"):
        await cache.read(str(repo.path), sha, path="../etc")
    with pytest.raises(SourceError, match="did not match"):
        await cache.read(str(repo.path), sha, path="missing")


async def test_a_commit_with_no_files_reads_as_no_manifests(cache: GitCache, repo: Repo) -> None:
    sha = repo.commit("empty")
    assert await cache.read(str(repo.path), sha) == []


async def test_credentials_never_appear_in_errors(cache: GitCache) -> None:
    url = f"https://deploy:s3cr3t-token@127.0.0.1:{free_port()}/o2/manifests.git"
    with pytest.raises(SourceError) as info:
        await cache.resolve(url, "main")
    assert "s3cr3t" not in str(info.value)
    assert "deploy" not in str(info.value)
    assert "https://127.0.0.1:" in str(info.value)


def test_redact_strips_userinfo_from_every_url() -> None:
    text = "fetch ssh://git:pw@host/r and https://tok@example.org/x failed; /local/path ok"
    assert redact(text) == "fetch ssh://host/r and https://example.org/x failed; /local/path ok"


async def test_hung_git_is_killed_at_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    fake = tmp_path / "fake-git"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cache = GitCache(tmp_path / "cache", timeout=0.5, git=str(fake))
    with pytest.raises(SourceError, match=r"timed out after 0\.5s"):
        await cache.resolve("/nowhere", "main")
    pid = int(pidfile.read_text())
    assert not alive(pid)


def test_only_a_local_directory_outside_git_is_a_plain_directory_source(
    repo: Repo, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    bare = tmp_path / "bare.git"
    repo.git("init", "--quiet", "--bare", str(bare))
    assert is_plain_directory(str(plain))
    assert not is_plain_directory(str(repo.path))
    assert not is_plain_directory(str(bare))
    assert not is_plain_directory(f"file://{plain}")
    assert not is_plain_directory(str(tmp_path / "missing"))


async def test_large_files_next_to_the_manifests_are_never_read(
    cache: GitCache, repo: Repo
) -> None:
    repo.write("envs/a.yaml", "a: 1\n")
    (repo.path / "envs" / "detector-map.bin").write_bytes(os.urandom(48 * 1024 * 1024))
    repo.write("envs/huge.yaml", "x: " + "y" * (5 * 1024 * 1024) + "\n")
    sha = repo.commit()
    repo.remove("envs/huge.yaml")
    small = repo.commit()
    url = str(repo.path)
    with pytest.raises(ValidationError, match=r"huge\.yaml") as err:
        await cache.read(url, sha, path="envs")
    assert "larger than 4.0 MiB" in str(err.value)
    tracemalloc.start()
    try:
        files = await cache.read(url, small, path="envs")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [f.path for f in files] == ["envs/a.yaml"]
    assert peak < 8 * 1024 * 1024, f"read {peak / 2**20:.0f} MiB for a 5-byte manifest"
