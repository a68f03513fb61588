"""The shell contract `o2 --help` documents: exit codes 0/1/2, errors on stderr only, `-o
json|yaml|name` parseable on stdout, and no traceback without -vv, also for an exception no
command expected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from cli.entry import verbosity
from cli.main import app
from tests.cli.conftest import O2, REPO
from tests.cli.edit_helpers import with_samples


def test_the_root_help_documents_the_exit_codes() -> None:
    text = " ".join(CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout.split())
    assert "Exit codes: 0 done; 1 the command failed" in text
    assert "2 wrong usage" in text
    assert "never with a traceback unless -vv" in text


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["get", "env"], 0),
        (["get", "env", "missing"], 1),
        (["describe", "env", "missing"], 1),
        (["get", "nokind"], 1),
        (["get", "env", "-o", "xml"], 1),
        (["get"], 2),
        (["nosuchcommand"], 2),
        (["get", "env", "--nosuchflag"], 2),
    ],
)
def test_exit_codes_hold_and_errors_go_to_stderr(o2: O2, argv: list[str], code: int) -> None:
    with_samples(o2)
    result = o2(*argv)
    assert result.exit_code == code, result.output
    if code:
        assert result.stdout == ""
        assert result.stderr.strip()


LISTS = [["env"], ["tc"], ["all"], ["env", "-l", "o2.dev/none=x"]]


@pytest.mark.parametrize("what", LISTS, ids=" ".join)
def test_get_json_yaml_and_name_parse(o2: O2, what: list[str]) -> None:
    with_samples(o2)
    as_json = o2("get", *what, "-o", "json")
    document = json.loads(as_json.stdout)
    assert document["kind"] == "List"
    assert yaml.safe_load(o2("get", *what, "-o", "yaml").stdout) == document
    names = o2("get", *what, "-o", "name").stdout.splitlines()
    assert all(re.fullmatch(r"[a-z]+/[a-z0-9][a-z0-9.-]*", n) for n in names), names
    expected = [f"{i['kind'].lower()}/{i['metadata']['name']}" for i in document["items"]]
    assert sorted(names) == sorted(expected)


def test_get_one_object_parses_as_that_object(o2: O2) -> None:
    with_samples(o2)
    document = json.loads(o2("get", "env", "physics-1", "-o", "json").stdout)
    assert (document["kind"], document["metadata"]["name"]) == ("Environment", "physics-1")
    assert yaml.safe_load(o2("get", "env", "physics-1", "-o", "yaml").stdout) == document
    assert o2("get", "env", "physics-1", "-o", "name").stdout == "environment/physics-1\n"


FAULTS = {
    "inside a command body": "import cli.listing as m\n"
    "async def boom(*a, **k):\n"
    "    raise RuntimeError('boom')\n"
    "m.get_objects = boom\n",
    "outside cli.runtime.run": "import cli.runtime as m\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('boom')\n"
    "m.options = boom\n",
    "inside the raw read": "import cli.rawget as m\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('boom')\n"
    "m.printed_lines = boom\n",
}


def o2_with_fault(o2: O2, fault: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`o2 ARGV` as the console script runs it, with a bug planted by `fault`."""
    code = FAULTS[fault] + "from cli.entry import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        env={**os.environ, **o2.env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("fault", "argv"),
    [
        ("inside a command body", ["get", "env", "-o", "json"]),  # the fast path
        ("inside a command body", ["get", "env", "-o", "json", "--selector", "a=b", "-w"]),
        ("outside cli.runtime.run", ["get", "env", "-w"]),
        ("outside cli.runtime.run", ["get", "all", "-o", "name", "-w"]),
    ],
)
def test_an_unexpected_exception_is_one_line_without_traceback_unless_vv(
    o2: O2, fault: str, argv: list[str]
) -> None:
    quiet = o2_with_fault(o2, fault, *argv)
    assert quiet.returncode == 1, quiet.stderr
    assert quiet.stdout == ""
    assert "Traceback" not in quiet.stderr
    assert "unexpected RuntimeError: boom (run with -vv for the traceback)" in quiet.stderr
    loud = o2_with_fault(o2, fault, "-vv", *argv)
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr
    assert "RuntimeError: boom" in loud.stderr


def test_an_unexpected_exception_of_the_raw_read_is_one_line(o2: O2) -> None:
    """`o2 get env` printed from the stored JSON (cli.rawget; with -vv it runs through typer,
    which the test above covers)."""
    quiet = o2_with_fault(o2, "inside the raw read", "get", "env")
    assert quiet.returncode == 1, quiet.stderr
    assert quiet.stdout == ""
    assert "Traceback" not in quiet.stderr
    assert "unexpected RuntimeError: boom (run with -vv for the traceback)" in quiet.stderr


@pytest.mark.parametrize(
    ("argv", "count"),
    [
        (["-vv", "get"], 2),
        (["-v", "-v", "get"], 2),
        (["--verbose", "get", "-vv"], 1),
        (["--etcd", "-vv", "get"], 0),
        (["--prefix", "/x", "-vvv", "get"], 3),
        (["get", "env"], 0),
    ],
)
def test_verbosity_counts_the_root_flags_only(argv: list[str], count: int) -> None:
    assert verbosity(argv) == count
