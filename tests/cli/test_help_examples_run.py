"""Every example in the help of every `o2` command runs and exits 0: in order, per command,
against a real etcd holding the samples, from a directory with the files the examples name
(env.yaml, readout.ini, ...). Examples with a pipe or redirection run through bash with `o2`
on PATH; `o2 edit` runs with a scripted editor that saves at once. The examples that cannot
run here are listed in tests/cli/help_examples.py with the reason and the tests that run
them; a new example is run unless it is added there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hack.bench.store_bench import make_task
from store.codec import encode
from tests.cli.conftest import O2, REPO, SAMPLES
from tests.cli.edit_helpers import edit as run_edit
from tests.cli.edit_helpers import with_samples
from tests.cli.help_examples import all_examples, argv, exemption, needs_shell
from tests.mesos_fixture import start_localmesos

EXAMPLES = all_examples()
BY_COMMAND: dict[str, list[str]] = {}
for _line, _path in EXAMPLES.items():
    if exemption(_line, _path) is None:
        BY_COMMAND.setdefault(_path, []).append(_line)

INI = "[readout]\nrate = 100\nbuffer = 1GB\n"


def workdir(tmp_path: Path) -> Path:
    """The files the examples name, and `manifests/` (the repository's)."""
    (tmp_path / "manifests").symlink_to(REPO / "manifests")
    env_yaml = (SAMPLES / "environment-physics-1.yaml").read_text()
    for name in ("env.yaml", "physics-1.yaml"):
        (tmp_path / name).write_text(env_yaml)
    shutil.copy(SAMPLES / "taskclasses.yaml", tmp_path / "taskclasses.yaml")
    for name in ("readout.ini", "readout-physics.ini"):
        (tmp_path / name).write_text(INI)
    (tmp_path / "qc.yaml").write_text("tasks: [qc-tpc]\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "o2"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m cli "$@"\n')
    shim.chmod(0o755)
    return tmp_path


def setup(o2: O2, command: str) -> None:
    """Objects some examples name besides the samples."""
    if command in ("describe", "delete", "wait"):
        task = make_task(0).model_copy(deep=True)
        object.__setattr__(task.metadata, "name", "physics-1-flp-tpc-readout")
        o2.etcdctl("put", o2.key("tasks", task.metadata.name), encode(task).decode())
    if command == "create env":
        assert o2("delete", "env", "physics-1").exit_code == 0


FRESH_EACH = {"delete"}
"""Commands whose examples each undo what the one before did: the samples again before each."""


def run_in_shell(o2: O2, line: str, where: Path) -> tuple[int, str]:
    env = {**o2.subprocess_env(), "PATH": f"{where / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", line],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("command", sorted(BY_COMMAND))
def test_every_help_example_runs(
    o2: O2,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    command: str,
) -> None:
    with_samples(o2)
    setup(o2, command)
    if command.startswith("top "):  # reads agents' statistics: a local cluster, hollow agents
        cluster = start_localmesos("--hollow-agents", "1", log_dir=tmp_path)
        request.addfinalizer(cluster.stop)
        monkeypatch.setenv("O2_MESOS", cluster.url)
    where = workdir(tmp_path)
    monkeypatch.chdir(where)
    for number, line in enumerate(BY_COMMAND[command]):
        if number and command in FRESH_EACH:
            with_samples(o2)
            setup(o2, command)
        if needs_shell(line):
            code, output = run_in_shell(o2, line, where)
        elif command == "edit":
            result = run_edit(o2, tmp_path / f"plan-{number}", [{}], *argv(line)[1:])
            code, output = result.exit_code, result.output
        else:
            result = o2(*argv(line))
            code, output = result.exit_code, result.output
        assert code == 0, f"{line}\n{output}"


def test_every_command_has_examples_and_every_exemption_is_used() -> None:
    from tests.cli.help_examples import EXEMPT_COMMANDS, EXEMPT_LINES, command_helps

    helps = command_helps()
    groups = {"set", "create", "node", "top", "etcd-auth plan", "etcd-auth apply"}
    missing = [path for path, text in helps.items() if "**Examples**" not in text]
    assert set(missing) <= groups, f"commands without examples: {missing}"
    assert set(EXEMPT_COMMANDS) <= set(helps)
    shown = {line.split("  #", maxsplit=1)[0].strip() for line in EXAMPLES}
    assert set(EXEMPT_LINES) <= shown, "an exempted example is no longer shown: drop it"
