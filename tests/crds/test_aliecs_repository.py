"""The pinned ControlWorkflows copy loads as it is, and `o2 convert aliecs` writes manifests
that parse back to the very same objects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import crds.plugins
from cli.commands.convert import read_repository
from cli.main import app
from crds.aliecs.load import Translation, translate
from crds.aliecs.output import manifest_text, missing_plugins
from crds.kinds.workflow import Workflow
from crds.manifest import parse_documents
from tests.crds.test_aliecs_load import DATA, DIALECT

PINNED = DATA / "controlworkflows"
_PUBLIC_VARIABLE = re.compile(r"^\s+\w+: !public\b", re.MULTILINE)


@pytest.fixture(scope="module")
def pinned() -> Translation:
    return translate(read_repository(PINNED))


@pytest.fixture
def all_plugins_installed(pinned: Translation, monkeypatch: pytest.MonkeyPatch) -> None:
    """A site with every plugin the repository calls (o2 ships only some of them)."""
    known = {**crds.plugins.known_functions()}
    known.update(
        (name, "controller.integration.testplugin:noop") for name in missing_plugins(pinned.objects)
    )
    monkeypatch.setattr(crds.plugins, "known_functions", lambda: known)


def test_every_workflow_and_task_file_of_the_repository_translates(pinned: Translation) -> None:
    tasks = sorted(p.stem for p in (PINNED / "tasks").glob("*.yaml"))
    workflows = sorted(p.stem for p in (PINNED / "workflows").glob("*.yaml"))
    assert len(tasks) == 12 and len(workflows) == 10
    assert sorted(o.name for o in pinned.objects if o.kind == "TaskClass") == tasks
    assert sorted(o.name for o in pinned.objects if o.kind == "Workflow") == workflows


def test_readout_dataflow_keeps_every_public_variable_declaration(pinned: Translation) -> None:
    text = (PINNED / "workflows" / "readout-dataflow.yaml").read_text()
    (wf,) = [o for o in pinned.objects if o.name == "readout-dataflow"]
    assert isinstance(wf, Workflow)
    assert wf.spec.public is True
    assert wf.spec.description == "Main workflow template for ALICE data taking"
    assert len(wf.spec.variables) == len(_PUBLIC_VARIABLE.findall(text)) > 100
    assert wf.spec.variables["dcs_enabled"].type == "bool"
    assert wf.spec.defaults["dcs_enabled"] == "false"


def test_the_repository_mistakes_aliecs_ignores_are_warnings(pinned: Translation) -> None:
    assert [(w.source, w.path) for w in pinned.warnings] == [
        ("workflows/readout-dataflow.yaml:242", "defaults.foc_dpl_workflow"),
        ("workflows/readout-dataflow.yaml:1287", "defaults.ctp_readout_host"),
    ]


@pytest.mark.usefixtures("all_plugins_installed")
@pytest.mark.parametrize("tree", [PINNED, DIALECT], ids=["controlworkflows", "dialect"])
def test_converted_manifests_parse_back_to_the_same_objects(tree: Path) -> None:
    translation = translate(read_repository(tree))
    text = manifest_text(translation.objects, header="converted")
    assert parse_documents(text, source="converted.yaml") == translation.objects


def test_convert_names_the_plugins_apply_would_refuse(pinned: Translation) -> None:
    missing = missing_plugins(pinned.objects)
    assert "bookkeeping.UpdateEnv" in missing and "testplugin.Noop" not in missing


def test_o2_convert_writes_one_file_per_object(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["convert", "aliecs", str(DIALECT), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == [
        "taskclasses/dialect-task.yaml",
        "taskclasses/hook-task.yaml",
        "taskclasses/upper-task.yaml",
        "workflows/dialect-all.yaml",
        "workflows/sub-flow.yaml",
        "workflows/upper-case.yaml",
    ]
    (obj,) = parse_documents((tmp_path / "workflows/upper-case.yaml").read_text(), source="x")
    assert obj.kind == "Workflow" and obj.name == "upper-case"
    assert "6 objects written" in result.stderr


def test_o2_convert_to_stdout_or_one_file(tmp_path: Path) -> None:
    out = tmp_path / "all.yaml"
    to_file = CliRunner().invoke(app, ["convert", "aliecs", str(DIALECT), "-o", str(out)])
    to_stdout = CliRunner().invoke(app, ["convert", "aliecs", str(DIALECT)])
    assert to_file.exit_code == to_stdout.exit_code == 0
    assert out.read_text() == to_stdout.stdout
    assert len(parse_documents(to_stdout.stdout, source="stdout")) == 6


def test_o2_convert_reports_every_problem_with_file_and_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / "workflows").mkdir(parents=True)
    (repo / "workflows" / "w.yaml").write_text("name: w\nroles:\n  - name: r\n    task: {}\n")
    (repo / "workflows" / "v.yaml").write_text("name: x\nroles: []\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["convert", "aliecs", str(repo), "-o", str(out)])
    assert result.exit_code != 0
    assert "workflows/v.yaml:1: name: 'x' differs from the file name 'v'" in result.stderr
    assert "workflows/w.yaml:4: roles[0].task.class: required field is missing" in result.stderr
    assert not out.exists()


def test_o2_convert_warns_about_dropped_values_and_missing_plugins(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["convert", "aliecs", str(PINNED), "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert "readout-dataflow.yaml:242: defaults.foc_dpl_workflow" in result.stderr
    assert "plugin functions not installed here: bookkeeping.CreateEnv" in result.stderr
