"""`o2 config` on real etcd with the reconciler running: import, show, render, history, diff."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.config_printers import shown_version, unrecorded_note
from controller.manager import Manager
from crds.kinds.componentconfig import ComponentConfig
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.meta import ObjectMeta
from store.etcd import EtcdStore
from tests.configs.conftest import O2Config, config_cli, wait_for
from tests.configs.factories import cc, edit, record, version_is

INI = "[readout]\ndetector = {{ detector }}\nrate = {{ rate }}\n"


async def test_import_creates_from_file_with_format_from_extension_then_updates(
    etcd_store: EtcdStore, o2config: O2Config, tmp_path: Path
) -> None:
    path = tmp_path / "readout.ini"
    path.write_text(INI)
    result = await o2config("import", "readout", "main", str(path), "--run-type", "physics")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "componentconfig/readout-physics-any-main created\n"
    stored = await etcd_store.get(ComponentConfig, "readout-physics-any-main")
    assert (stored.spec.format, stored.spec.run_type, stored.spec.data) == ("ini", "PHYSICS", INI)

    path.write_text(INI.replace("rate", "rate_hz"))
    again = await o2config("import", "readout", "main", str(path), "-r", "physics")
    assert again.stdout == "componentconfig/readout-physics-any-main configured\n"
    same = await o2config("import", "readout", "main", str(path), "-r", "PHYSICS")
    assert same.stdout == "componentconfig/readout-physics-any-main unchanged\n"
    listing = await o2config("list", "readout")
    # no controller here: nothing recorded yet (version 0, '+': a payload waits to be recorded)
    assert listing.stdout.split("\n")[1].split()[:7] == [
        "readout-physics-any-main",
        "readout",
        "PHYSICS",
        "any",
        "main",
        "ini",
        "0+",
    ]


async def test_import_refuses_an_unparsable_file_naming_the_line(
    etcd_store: EtcdStore, o2config: O2Config, tmp_path: Path
) -> None:
    path = tmp_path / "qc.json"
    path.write_text('{\n  "a": 1,\n  "b": \n}\n')
    result = await o2config("import", "qc", "main", str(path))
    assert result.exit_code == 1
    assert f"{path} line 4: invalid JSON" in result.stderr
    assert (await etcd_store.list(ComponentConfig)).items == []


async def test_show_render_prints_what_a_physics_task_receives(
    etcd_store: EtcdStore, manager: Manager, o2config: O2Config
) -> None:
    await etcd_store.create(cc("readout-any", fmt="ini", data="[readout]\nrate = 1\n"))
    await etcd_store.create(cc("readout-physics", run_type="PHYSICS", fmt="ini", data=INI))
    for name in ("readout-any", "readout-physics"):
        await wait_for(etcd_store, ComponentConfig, name, version_is(1))
    rendered = await o2config(
        "show", "readout", "main", "--run-type", "PHYSICS", "--role", "flp-TPC.readout",
        "--render", "--var", "detector=TPC", "--var", "rate=200",
    )  # fmt: skip
    assert rendered.exit_code == 0, rendered.stderr
    assert rendered.stdout == "[readout]\ndetector = TPC\nrate = 200\n"
    assert "componentconfig/readout-physics@1 (readout/PHYSICS/any/main, ini)" in rendered.stderr
    technical = await o2config("show", "readout", "main", "--run-type", "TECHNICAL")
    assert technical.stdout == "[readout]\nrate = 1\n"
    missing = await o2config(
        "show", "readout", "main", "-r", "PHYSICS", "--render", "--var", "detector=TPC"
    )
    assert missing.exit_code == 1
    assert "componentconfig/readout-physics@1 line 3: 'rate' is undefined" in missing.stderr
    unknown = await o2config("show", "nope", "main")
    assert unknown.exit_code == 1
    assert "nope/ANY/any/main: no ComponentConfig for component 'nope'" in unknown.stderr
    single = await o2config("diff", "readout", "main", "-r", "PHYSICS")
    assert single.exit_code == 1
    assert "readout-physics@1: only one version so far" in single.stderr


async def test_three_edits_leave_three_previous_versions_shown_and_diffed(
    etcd_store: EtcdStore, manager: Manager, o2config: O2Config, tmp_path: Path
) -> None:
    path = tmp_path / "readout.ini"
    for rate in (1, 2, 3, 4):
        path.write_text(f"[readout]\nrate = {rate}\n")
        result = await o2config("import", "readout", "main", str(path))
        assert result.exit_code == 0, result.stderr
        await wait_for(etcd_store, ComponentConfig, "readout-any-any-main", version_is(rate))
    env = await etcd_store.create(
        Environment(metadata=ObjectMeta(name="physics-1"), spec=EnvironmentSpec(workflow="readout"))
    )
    refs = {"readout/main": "readout-any-any-main@2"}  # as the environment controller records
    status = env.status.model_copy(update={"state": "CONFIGURED", "config_versions": refs})
    await etcd_store.update_status(env.model_copy(update={"status": status}))
    history = await o2config("history", "readout", "main")
    rows = [line.split() for line in history.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert rows[-1][1] == "*"
    assert [row[-1] for row in rows[:2]] == ["19", "physics-1"]  # BYTES, then USED-BY
    for version in (1, 2, 3):
        old = await o2config("show", "readout", "main", "--version", str(version))
        assert old.stdout == f"[readout]\nrate = {version}\n"
    diff = await o2config("diff", "readout", "main")
    assert diff.stdout.splitlines() == [
        "--- readout-any-any-main@3",
        "+++ readout-any-any-main@4",
        "@@ -1,2 +1,2 @@",
        " [readout]",
        "-rate = 3",
        "+rate = 4",
    ]
    oldest = await o2config("diff", "readout", "main", "--from", "1", "--to", "2")
    assert "-rate = 1\n+rate = 2\n" in oldest.stdout
    gone = await o2config("diff", "readout", "main", "--from", "9")
    assert gone.exit_code == 1
    assert "version 9 is not kept (kept: 1, 2, 3, 4)" in gone.stderr


async def test_import_from_stdin_and_list_as_json(
    etcd_store: EtcdStore, o2config: O2Config
) -> None:
    done = await asyncio.to_thread(
        CliRunner().invoke,
        config_cli(),
        ["config", "import", "qc", "main", "-", "--format", "yaml", "--role", "qc"],
        input="threshold: 5\n",
        env={"O2_ETCD": o2config.endpoint, "O2_PREFIX": o2config.prefix},
    )
    assert done.exit_code == 0, done.stderr
    listing = await o2config("list", "-o", "json")
    doc = json.loads(listing.stdout)
    assert doc["kind"] == "List"
    assert [
        (i["metadata"]["name"], i["spec"]["format"], i["spec"]["role"]) for i in doc["items"]
    ] == [("qc-any-qc-main", "yaml", "qc")]
    shown = await o2config("show", "qc", "main", "--role", "qc-0.qc")
    assert shown.stdout == "threshold: 5\n"


@pytest.mark.parametrize("command", ["list", "show", "import", "history", "diff"])
def test_each_config_command_help_gives_examples(command: str) -> None:
    result = CliRunner().invoke(config_cli(), ["config", command, "--help"])
    assert result.exit_code == 0
    assert f"o2 config {command}" in result.stdout.split("Examples", 1)[1]


def test_show_says_when_the_stored_payload_is_not_what_tasks_receive() -> None:
    obj = cc("x", data="v1")
    assert shown_version(obj) == 1
    assert "not recorded yet" in unrecorded_note(obj)
    obj = record(obj)
    assert unrecorded_note(obj) == ""
    obj = edit(obj, "v2")
    assert shown_version(obj) == 1
    assert "newer payload, version 2 once the controller records it" in unrecorded_note(obj)
