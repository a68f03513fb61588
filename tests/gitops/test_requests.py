"""`o2 sync` / `o2 diff gitsource` through etcd, suspend, and credentials kept out of etcd."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner, Result

from cli.gitops import GitOpsError, diff, diff_gitsource, register
from cli.main import app as main_app
from cli.main import root
from controller.manager import Manager
from crds.errors import NotFoundError
from crds.kinds.environment import Environment
from crds.kinds.event import Event
from crds.kinds.gitsource import GitSource
from crds.labels import SOURCE_LABEL
from store.embedded import EmbeddedEtcd, free_port
from store.etcd import EtcdStore
from tests.gitops.conftest import Repo, env_yaml, gitsource, synced, wait_events, wait_until


async def test_diff_request_reports_changes_without_applying_them(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("a.yaml", env_yaml("env-a"))
    repo.write("b.yaml", env_yaml("env-b"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.write("a.yaml", env_yaml("env-a", state="RUNNING"))
    repo.remove("b.yaml")
    repo.write("c.yaml", env_yaml("env-c"))
    sha = repo.commit()
    result = await diff(etcd_store, "flp", within=20)
    assert result.commit == sha
    lines = sorted((c.action, c.name, c.paths) for c in result.changes)
    assert lines == [
        ("configure", "env-a", ("spec.state", "metadata.annotations.o2.dev/commit")),
        ("create", "env-c", ()),
        ("prune", "env-b", ()),
    ]
    # nothing was applied
    assert (await etcd_store.get(Environment, "env-a")).spec.state == "STANDBY"
    await etcd_store.get(Environment, "env-b")
    with pytest.raises(NotFoundError):
        await etcd_store.get(Environment, "env-c")


async def test_sync_of_a_suspended_source_is_refused_and_nothing_is_applied(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    repo.write("a.yaml", env_yaml("env-a"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path, suspend=True))
    gs = await wait_until(
        etcd_store,
        GitSource,
        "flp",
        lambda o: o is not None and any(c.reason == "Suspended" for c in o.status.conditions),
    )
    assert gs is not None and gs.status.last_applied_commit is None
    with pytest.raises(GitOpsError, match="suspended"):
        await synced(etcd_store, "flp")
    with pytest.raises(NotFoundError):
        await etcd_store.get(Environment, "env-a")


async def test_unreachable_url_with_credentials_keeps_them_out_of_status_and_events(
    etcd_store: EtcdStore, manager: Manager
) -> None:
    url = f"https://deploy:s3cr3t@127.0.0.1:{free_port()}/manifests.git"
    await etcd_store.create(gitsource("remote", url))
    gs = await synced(etcd_store, "remote")
    assert gs.status.sync == "OutOfSync"
    assert "https://127.0.0.1" in gs.status.message
    await wait_events(etcd_store, "FetchFailed")
    events = (await etcd_store.list(Event)).items
    dumped = gs.status.model_dump_json() + "".join(e.model_dump_json() for e in events)
    assert "s3cr3t" not in dumped
    assert "deploy" not in dumped


# ----- the commands, in-process (CliRunner in a thread: the manager runs on this loop) -------


@pytest.fixture
def cli_app() -> Iterator[typer.Typer]:
    app = typer.Typer()
    app.callback()(root)
    register(app)

    @app.command("diff-gitsource")
    def diff_cmd(ctx: typer.Context, name: str, timeout: str = "20s") -> None:
        diff_gitsource(ctx, name, timeout=timeout)

    yield app


async def invoke(app: typer.Typer, etcd: EmbeddedEtcd, store: EtcdStore, *args: str) -> Result:
    env = {"O2_ETCD": etcd.endpoint, "O2_PREFIX": store.prefix}

    def call() -> Result:
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    return await asyncio.to_thread(call)


async def test_o2_sync_prints_commit_and_counts(
    etcd_store: EtcdStore,
    etcd_server: EmbeddedEtcd,
    manager: Manager,
    repo: Repo,
    cli_app: typer.Typer,
) -> None:
    repo.write("a.yaml", env_yaml("env-a"))
    sha = repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.write("a.yaml", env_yaml("env-a", state="DEPLOYED"))
    repo.write("b.yaml", env_yaml("env-b"))
    sha = repo.commit()
    result = await invoke(cli_app, etcd_server, etcd_store, "sync", "flp")
    assert result.exit_code == 0, result.output
    assert f"gitsource/flp synced commit {sha[:12]}: 1 created, 1 configured, 0 pruned" in (
        result.stdout
    )
    diffed = await invoke(cli_app, etcd_server, etcd_store, "diff-gitsource", "flp")
    assert (diffed.exit_code, diffed.stdout) == (0, "")
    listed = await invoke(
        main_app, etcd_server, etcd_store, "get", "env", "-l", f"{SOURCE_LABEL}=flp"
    )
    assert listed.exit_code == 0, listed.output
    assert "env-a" in listed.stdout and "env-b" in listed.stdout


async def test_o2_sync_of_a_broken_commit_fails_naming_the_field(
    etcd_store: EtcdStore,
    etcd_server: EmbeddedEtcd,
    manager: Manager,
    repo: Repo,
    cli_app: typer.Typer,
) -> None:
    repo.write("a.yaml", env_yaml("env-a", state="SOMEWHERE"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    result = await invoke(cli_app, etcd_server, etcd_store, "sync", "flp")
    assert result.exit_code == 1
    assert "a.yaml: document 1: Environment/env-a: spec.state" in result.stderr.replace("\n", "")
    dry = await invoke(cli_app, etcd_server, etcd_store, "sync", "flp", "--dry-run")
    assert dry.exit_code == 2
    assert "spec.state" in dry.stderr


async def test_o2_diff_gitsource_lists_changes_and_exits_1(
    etcd_store: EtcdStore,
    etcd_server: EmbeddedEtcd,
    manager: Manager,
    repo: Repo,
    cli_app: typer.Typer,
) -> None:
    repo.write("a.yaml", env_yaml("env-a"))
    repo.commit()
    await etcd_store.create(gitsource("flp", repo.path))
    await synced(etcd_store, "flp")
    repo.write("a.yaml", env_yaml("env-a", state="RUNNING"))
    repo.commit()
    result = await invoke(cli_app, etcd_server, etcd_store, "diff-gitsource", "flp")
    assert result.exit_code == 1
    assert result.stdout == (
        "~ environment/env-a: spec.state, metadata.annotations.o2.dev/commit\n"
    )


async def test_o2_sync_without_a_controller_times_out_with_a_hint(
    etcd_store: EtcdStore, etcd_server: EmbeddedEtcd, repo: Repo, cli_app: typer.Typer
) -> None:
    await etcd_store.create(gitsource("flp", repo.path))
    result = await invoke(cli_app, etcd_server, etcd_store, "sync", "flp", "--timeout", "300ms")
    assert result.exit_code == 1
    assert "no answer from the GitSource controller" in result.stderr
    assert await sync_is_pending(etcd_store)


async def sync_is_pending(store: EtcdStore) -> bool:
    gs = await store.get(GitSource, "flp")
    return gs.status.last_handled_sync_request is None
