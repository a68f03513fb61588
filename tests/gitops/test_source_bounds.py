"""What a GitSource reads: only spec.path, nothing outside its directory, no alias bombs."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from controller.gitsource.git import GitCache
from controller.gitsource.source import Sources
from controller.manager import Manager
from crds.errors import SourceError
from store.etcd import EtcdStore
from tests.gitops.conftest import Repo, env_yaml, gitsource, synced
from tests.manifest_bombs import alias_bomb


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    return Sources(GitCache(tmp_path / "cache"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "manifests"
    (root / "envs").mkdir(parents=True)
    (root / "envs" / "env.yaml").write_text(env_yaml("physics-1"))
    return root


async def test_alias_bomb_in_a_directory_source_is_refused_quickly_and_small(
    etcd_store: EtcdStore, manager: Manager, folder: Path
) -> None:
    (folder / "envs" / "bomb.yaml").write_text(alias_bomb())
    await etcd_store.create(gitsource("dir", folder, path="envs"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    gs = await synced(etcd_store, "dir")
    elapsed = time.monotonic() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert gs.status.last_applied_commit is None
    assert gs.status.sync == "OutOfSync"
    assert (
        "envs/bomb.yaml: document 1: YAML aliases are not allowed in o2 manifests "
        "(found *a at line 7)" in gs.status.message
    )
    assert grown_mb < 100
    assert elapsed < 10  # a sync round trip through etcd; the refusal itself takes milliseconds


@pytest.mark.parametrize("path", ["..", "envs/../..", "/", "/etc"])
async def test_directory_source_path_outside_the_directory_is_refused(
    sources: Sources, folder: Path, path: str
) -> None:
    with pytest.raises(SourceError, match="must be a directory inside the repository"):
        await sources.resolve(str(folder), "main", path=path)


async def test_directory_source_reads_only_its_path(sources: Sources, folder: Path) -> None:
    (folder / "other.yaml").write_text(env_yaml("elsewhere"))
    commit = await sources.resolve(str(folder), "main", path="envs")
    files = await sources.read(str(folder), commit, path="envs")
    assert [f.path for f in files] == ["envs/env.yaml"]


async def test_directory_source_refuses_a_symlinked_file_leading_outside(
    sources: Sources, folder: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    (folder / "envs" / "leak.yaml").symlink_to(secret)
    with pytest.raises(SourceError, match=r"envs/leak.yaml is a symlink to .*outside") as info:
        await sources.resolve(str(folder), "main", path="envs")
    assert "hunter2" not in str(info.value)


async def test_directory_source_refuses_a_symlinked_directory_leading_outside(
    sources: Sources, folder: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.yaml").write_text(env_yaml("outside"))
    (folder / "envs" / "more").symlink_to(tmp_path / "outside")
    with pytest.raises(SourceError, match=r"envs/more is a symlink to .*outside"):
        await sources.resolve(str(folder), "main", path="envs")
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(SourceError, match=r"link is a symlink to .*outside"):
        await sources.resolve(str(folder), "main", path="link")


async def test_directory_source_follows_symlinks_inside_it_once(
    sources: Sources, folder: Path
) -> None:
    (folder / "envs" / "same.yaml").symlink_to(folder / "envs" / "env.yaml")
    (folder / "envs" / "loop").symlink_to(folder / "envs")
    commit = await sources.resolve(str(folder), "main", path="envs")
    files = await sources.read(str(folder), commit, path="envs")
    assert [f.path for f in files] == ["envs/env.yaml", "envs/same.yaml"]


async def test_directory_source_on_the_filesystem_root_is_refused_without_walking_it(
    sources: Sources,
) -> None:
    start = time.monotonic()
    with pytest.raises(SourceError, match="holds more than 20,000 entries"):
        await sources.resolve("/", "main")
    assert time.monotonic() - start < 30


async def test_directory_source_refuses_an_oversize_file(sources: Sources, folder: Path) -> None:
    with (folder / "envs" / "huge.yaml").open("wb") as f:
        f.truncate(5 * 1024 * 1024)
    with pytest.raises(SourceError, match=r"envs/huge\.yaml: file is larger than 4\.0 MiB"):
        await sources.resolve(str(folder), "main", path="envs")


async def test_git_source_never_follows_a_symlink(
    sources: Sources, repo: Repo, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(env_yaml("secret"))
    repo.write("env.yaml", env_yaml("physics-1"))
    (repo.path / "leak.yaml").symlink_to(secret)
    commit = repo.commit()
    files = await sources.read(str(repo.path), commit)
    assert [f.path for f in files] == ["env.yaml"]
