"""Every ControlWorkflows task template's command line runs against the stand-in installation
(tests/data/aliecs_install as `o2_install_path`, modulepath empty): `direct` and `fairmq`
programs reach STANDBY under the real executor, `basic` ones exit 0."""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

import pytest

from executor.errors import SpawnError
from executor.runtime import LaunchSpec, TaskRunner
from executor.supervisor import CommandSpec, spawn
from tests.executor.aliecs_commands import INSTALL, TEMPLATES, Template, load
from tests.executor.conftest import REPO, StatusLog
from tests.executor.test_aliecs_occ import drive

OWN_USER = pwd.getpwuid(os.geteuid()).pw_name
VARIABLES = {
    "o2_install_path": str(INSTALL),
    "modulepath": "",
    "user": OWN_USER,
    "detector": "TPC",
    "environment_id": "2oDvieFrVTi",
    "consul_endpoint": "127.0.0.1:8500",
    "consul_prefix": "o2/components/readoutcard",
    "task_hostname": "flp001",
    "host": "flp001",
    "card": "0228",
    "card_endpoints": "0 1",
    "it": "flp001",
    "fmq_rate_logging": "0",
    "infologger_mode": "",
    "infologger_severity": "info",
    "monitoring_dd_url": "no-op://",
    "stfs_input_channel_name": "buildertosender",
    "dd_discovery_stfs_id": "stfs-flp001",
    "ddsched_enabled": "false",
    "shell_command": "echo hello from a shell command",
    "log_task_stdout": "all",
    "log_task_stderr": "all",
}
NAMES = sorted(path.stem for path in TEMPLATES.glob("*.yaml"))
HOST_PROFILE = "/etc/profile.d/o2.sh"


def runnable(template: Template, tmp_path: Path) -> CommandSpec:
    """The rendered command with the test's environment: the sample task's command line and
    the stand-in tree on PATH. The host's /etc/profile.d/o2.sh, which a test cannot install,
    is the tree's copy."""
    command = template.command
    env = {
        **command.env,
        "O2_SAMPLE_TASK": f"{sys.executable} -m executor.sample_task",
        "PYTHONPATH": REPO,
        "PATH": f"{INSTALL / 'bin'}:{os.environ.get('PATH', os.defpath)}",
    }
    value = command.value.replace(HOST_PROFILE, str(INSTALL / "etc/profile.d/o2.sh"))
    return CommandSpec(
        value=value,
        arguments=command.arguments,
        env=env,
        shell=command.shell,
        user=command.user,
        stdout=command.stdout,
        stderr=command.stderr,
    )


def test_every_task_template_is_covered():
    assert len(NAMES) == 12
    controls = {name: load(name, VARIABLES).control for name in NAMES}
    assert set(controls.values()) == {"direct", "fairmq", "basic"}


@pytest.mark.parametrize("name", [n for n in NAMES if load(n, VARIABLES).control != "basic"])
async def test_controllable_template_reaches_standby(
    name: str, runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    template = load(name, VARIABLES)
    assert template.command.value.startswith(f"{INSTALL}/bin/") or "numactl" in (
        template.command.value
    )
    spec = LaunchSpec(
        task_id=name,
        command=runnable(template, tmp_path),
        sandbox=tmp_path / name,
        control=template.control,  # type: ignore[arg-type]
    )
    await runner.launch(spec)
    running = await statuses.wait_for(name, "TASK_RUNNING", within=30)
    assert running.occ_state == "STANDBY"
    stdout = (tmp_path / name / "stdout").read_text()
    assert f"pid={running.pid} " in stdout  # the stand-in exec'd the sample task in place


@pytest.mark.parametrize("name", [n for n in NAMES if load(n, VARIABLES).control == "basic"])
async def test_basic_template_exits_zero(name: str, tmp_path: Path):
    template = load(name, VARIABLES)
    command = runnable(template, tmp_path)
    if command.user == "root" and os.geteuid() != 0:
        with pytest.raises(SpawnError, match="cannot run as user 'root'"):
            spawn(name, command, sandbox=tmp_path / name)
        return
    process = spawn(name, command, sandbox=tmp_path / name)
    status = await process.wait()
    for forwarder in process.forwarders:
        await forwarder.done.wait()
    output = (tmp_path / name / "stdout").read_text() + (tmp_path / name / "stderr").read_text()
    assert status.success, output


async def test_fairmq_stand_in_walks_the_whole_cycle_in_fairmq_states(
    runner: TaskRunner, statuses: StatusLog, tmp_path: Path
):
    template = load("stfbuilder", VARIABLES)
    spec = LaunchSpec(
        task_id="stfb",
        command=runnable(template, tmp_path),
        sandbox=tmp_path / "stfb",
        control="fairmq",
    )
    await runner.launch(spec)
    await statuses.wait_for("stfb", "TASK_RUNNING", within=30)
    assert await drive(runner, "stfb", "CONFIGURE", detector="TPC") == "CONFIGURED"
    assert await drive(runner, "stfb", "START", runNumber="7") == "RUNNING"
    assert await drive(runner, "stfb", "STOP") == "CONFIGURED"
    assert await drive(runner, "stfb", "RESET") == "STANDBY"
    assert await drive(runner, "stfb", "EXIT") == "DONE"
    finished = await statuses.wait_for("stfb", "TASK_FINISHED")
    assert finished.exit_code == 0
    lines = (tmp_path / "stfb" / "stdout").read_text()
    assert 'transition CONFIGURE -> CONFIGURED detector=TPC properties={"detector": "TPC"}' in lines
