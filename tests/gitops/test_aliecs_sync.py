"""GitSource `format: aliecs` end to end: an AliECS repository as it is (the pinned
ControlWorkflows copy, the team-written dialect files) in a real git repository, real etcd,
the in-process manager; and `o2 convert` + apply giving the same objects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import crds.plugins
from cli.commands.apply import apply_objects
from cli.commands.convert import read_repository
from controller.manager import Manager
from crds.aliecs.load import translate
from crds.aliecs.output import manifest_text, missing_plugins
from crds.kinds.gitsource import GitSource
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow
from crds.labels import ALIECS_NAME, ALIECS_SOURCE, APPLIED_PREFIX, COMMIT_ANNOTATION, SOURCE_LABEL
from crds.manifest import parse_documents
from crds.resource import Resource
from store.etcd import EtcdStore
from tests.gitops.conftest import Repo, gitsource, synced, wait_events, wait_until

DATA = Path(__file__).resolve().parents[1] / "data"
PINNED = DATA / "controlworkflows"
DIALECT = DATA / "aliecs"


def copy_tree(source: Path, repo: Repo, *, under: str = "") -> None:
    target = repo.path / under if under else repo.path
    shutil.copytree(source, target, dirs_exist_ok=True)


async def test_every_workflow_and_task_file_of_controlworkflows_syncs_with_no_error(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    copy_tree(PINNED, repo)
    sha = repo.commit("ControlWorkflows as it is")
    await etcd_store.create(gitsource("cw", repo.path, format="aliecs"))
    gs = await synced(etcd_store, "cw")
    assert gs.status.sync == "Synced", gs.status.message
    assert gs.status.last_applied_commit == sha
    expected = sorted(p.stem for p in PINNED.glob("[wt]*/*.yaml"))
    assert sorted(e.name for e in gs.status.inventory) == expected
    assert len(gs.status.inventory) == 22
    wf = await etcd_store.get(Workflow, "readout-dataflow")
    assert wf.metadata.annotations[COMMIT_ANNOTATION] == sha
    assert wf.metadata.annotations[ALIECS_SOURCE] == "workflows/readout-dataflow.yaml"
    assert wf.metadata.labels[SOURCE_LABEL] == "cw"
    assert wf.spec.public and len(wf.spec.variables) > 100
    tc = await etcd_store.get(TaskClass, "stfbuilder")
    assert tc.spec.control == "fairmq" and "O2_DETECTOR" in tc.spec.command.env
    (ignored,) = await wait_events(etcd_store, "AliecsIgnored")
    assert ignored.spec.message.startswith(f"commit {sha[:12]}: 2 AliECS construct(s) ignored")
    assert "workflows/readout-dataflow.yaml:242: defaults.foc_dpl_workflow" in ignored.spec.message


async def test_dialect_files_under_spec_path_sync_and_other_files_are_ignored(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    copy_tree(DIALECT, repo, under="aliecs")
    repo.write("aliecs/jit/minimal-dpl", "o2-dpl-run --help\n")
    repo.write("aliecs/README.yaml", "not: a template\n")
    repo.write("manifests/tc.yaml", "kind: TaskClass\n")
    repo.commit()
    await etcd_store.create(gitsource("dialect", repo.path, path="aliecs", format="aliecs"))
    gs = await synced(etcd_store, "dialect")
    assert gs.status.sync == "Synced", gs.status.message
    assert [(e.kind, e.name) for e in gs.status.inventory] == [
        ("TaskClass", "dialect-task"),
        ("TaskClass", "hook-task"),
        ("TaskClass", "upper-task"),
        ("Workflow", "dialect-all"),
        ("Workflow", "sub-flow"),
        ("Workflow", "upper-case"),
    ]
    upper = await etcd_store.get(Workflow, "upper-case")
    assert upper.metadata.annotations[ALIECS_NAME] == "Upper_Case"
    assert upper.metadata.annotations[ALIECS_SOURCE] == "aliecs/workflows/Upper_Case.yaml"


async def test_an_invalid_commit_names_file_line_and_construct_and_keeps_the_last_good(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    copy_tree(DIALECT, repo)
    good = repo.commit()
    await etcd_store.create(gitsource("dialect", repo.path, format="aliecs"))
    await synced(etcd_store, "dialect")
    repo.write("workflows/sub-flow.yaml", "name: sub-flow\nroles:\n  - name: shell\n    task: {}\n")
    repo.write("workflows/broken.yaml", "name: broken\nroles:\n  - name: x\n    nothing: 1\n")
    bad = repo.commit("break two files")
    gs = await synced(etcd_store, "dialect")
    assert gs.status.last_applied_commit == good
    assert gs.status.last_attempted_commit == bad
    message = gs.status.message
    assert "workflows/broken.yaml:4: roles[0].nothing: unknown field" in message
    assert "workflows/sub-flow.yaml:4: roles[0].task.class: required field is missing" in message
    sub = await etcd_store.get(Workflow, "sub-flow")
    assert sub.metadata.annotations[COMMIT_ANNOTATION] == good


async def test_changing_the_format_reads_the_same_commit_again(
    etcd_store: EtcdStore, manager: Manager, repo: Repo
) -> None:
    copy_tree(DIALECT, repo)
    sha = repo.commit()
    await etcd_store.create(gitsource("dialect", repo.path))
    gs = await synced(etcd_store, "dialect")
    assert gs.status.last_applied_commit is None and "apiVersion" in gs.status.message
    aliecs = gs.spec.model_copy(update={"format": "aliecs"})
    await etcd_store.update(gs.model_copy(update={"spec": aliecs}))
    done = await wait_until(
        etcd_store, GitSource, "dialect", lambda o: o is not None and o.status.sync == "Synced"
    )
    assert done is not None and done.status.last_applied_commit == sha
    assert len(done.status.inventory) == 6


def comparable(obj: Resource) -> tuple[str, str, object, dict[str, str], dict[str, str]]:
    """What must be equal: kind, name, spec, and the labels and annotations that are not
    the GitSource's own bookkeeping."""
    labels = {k: v for k, v in obj.metadata.labels.items() if k != SOURCE_LABEL}
    notes = {
        k: v
        for k, v in obj.metadata.annotations.items()
        if k != COMMIT_ANNOTATION and not k.startswith(APPLIED_PREFIX)  # who applied it
    }
    spec = obj.model_dump(mode="json", include={"spec"})
    return (obj.kind, obj.name, spec, labels, notes)


@pytest.mark.parametrize("tree", [PINNED, DIALECT], ids=["controlworkflows", "dialect"])
async def test_o2_convert_then_apply_gives_the_objects_a_sync_gives(
    etcd_store: EtcdStore,
    manager: Manager,
    repo: Repo,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    translation = translate(read_repository(tree))
    # `o2 apply` checks that called plugins are installed: this site has them all
    known = dict(crds.plugins.known_functions())
    known.update(
        (n, "controller.integration.testplugin:noop") for n in missing_plugins(translation.objects)
    )
    monkeypatch.setattr(crds.plugins, "known_functions", lambda: known)
    converted = parse_documents(manifest_text(translation.objects), source="converted.yaml")
    await apply_objects(etcd_store, converted, dry_run=False, report=lambda _: None)
    applied = [await etcd_store.get(type(o), o.name) for o in converted]
    for obj in reversed(applied):
        await etcd_store.delete(type(obj), obj.name)
    copy_tree(tree, repo)
    repo.commit()
    await etcd_store.create(gitsource("cw", repo.path, format="aliecs"))
    gs = await synced(etcd_store, "cw")
    assert gs.status.sync == "Synced", gs.status.message
    for obj in applied:
        synced_obj = await wait_until(etcd_store, type(obj), obj.name, lambda o: o is not None)
        assert synced_obj is not None
        assert comparable(synced_obj) == comparable(obj)
