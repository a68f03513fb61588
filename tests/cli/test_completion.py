"""Shell completion in bash and zsh, run as the shell scripts `o2` installs run it: KIND from
the kind table, NAMEs from etcd (bounded in time, nothing on failure), flags from the command;
NAME completion needs neither the gRPC client nor the models."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from cli.completion import read_names
from cli.options import GlobalOptions
from tests.cli.conftest import O2, REPO
from tests.cli.edit_helpers import with_samples
from tests.cli.test_import_budget import import_tree


def complete(shell: str, words: str, env: dict[str, str]) -> list[str]:
    """The candidates the shell would offer for the command line `words` (cursor at its end)."""
    if shell == "bash":
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        extra = {"_O2_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    else:
        extra = {"_O2_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words}
    done = subprocess.run(
        [sys.executable, "-m", "cli"],
        env={**os.environ, "PYTHONPATH": str(REPO), **env, **extra},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not done.stderr, done.stderr
    if shell == "bash":
        return done.stdout.split()
    return re.findall(r'"((?:[^"\\]|\\.)*)"(?::"(?:[^"\\]|\\.)*")?', done.stdout)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_kinds_names_and_flags_complete(o2: O2, shell: str) -> None:
    with_samples(o2)
    assert set(complete(shell, "o2 get en", o2.env)) == {
        "env",
        "environment",
        "environments",
        "envs",
    }
    assert complete(shell, "o2 get env ", o2.env) == ["physics-1"]
    assert complete(shell, "o2 describe tc ", o2.env) == ["qc", "readout", "stfbuilder"]
    assert complete(shell, "o2 describe tc readout s", o2.env) == ["stfbuilder"]
    assert complete(shell, "o2 describe tc readout ", o2.env) == ["qc", "stfbuilder"]
    assert complete(shell, "o2 label wf ", o2.env) == ["readout-dataflow"]
    assert complete(shell, "o2 get env --o", o2.env) == ["--output"]
    assert "--selector" in complete(shell, "o2 get env -", o2.env)
    assert complete(shell, f"o2 --prefix {o2.prefix}-other get env ", o2.env) == []
    assert complete(shell, "o2 get nokind ", o2.env) == []


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_the_installed_scripts_call_what_the_tests_run(shell: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli"],
        env={**os.environ, "PYTHONPATH": str(REPO), "_O2_COMPLETE": f"source_{shell}"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"_O2_COMPLETE=complete_{shell}" in done.stdout


@pytest.fixture
def silent_etcd() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a hung etcd)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_names_are_read_within_the_time_bound(silent_etcd: str) -> None:
    opts = GlobalOptions(etcd=f"{silent_etcd},{silent_etcd}")
    start = time.monotonic()
    with pytest.raises(OSError):
        read_names(opts, "environments", "", timeout=0.5)
    assert time.monotonic() - start < 2.0  # the bound (0.5 s) plus generous slack


def test_a_hung_etcd_gives_no_candidates_and_no_error(silent_etcd: str) -> None:
    assert complete("bash", "o2 get env ", {"O2_ETCD": silent_etcd}) == []


def test_name_completion_needs_no_grpc_and_no_model(o2: O2) -> None:
    env = {
        **o2.env,
        "_O2_COMPLETE": "complete_bash",
        "COMP_WORDS": "o2 get env ",
        "COMP_CWORD": "3",
    }
    roots = import_tree(["-m", "cli"], env)
    heavy = ("grpc", "aetcd", "google.protobuf", "crds.kinds", "crds.meta", "store", "asyncio")
    chains = [
        " -> ".join(chain)
        for root in roots
        for chain in root.walk()
        if any(chain[-1] == h or chain[-1].startswith(h + ".") for h in heavy)
    ]
    assert not chains, "\n".join(chains)
