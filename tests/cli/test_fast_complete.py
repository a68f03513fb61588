"""Completion without typer (cli.fastcomplete) prints what typer's completion prints, byte for
byte, in bash and zsh, for command names and the KIND and NAMEs of get and describe; every
other line goes to typer; and the lines it serves import no typer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli import completion, fastcomplete
from cli.fastcomplete import fast_completion
from tests.cli.conftest import O2, REPO
from tests.cli.edit_helpers import with_samples
from tests.cli.test_import_budget import import_tree


def shell_env(shell: str, words: str) -> dict[str, str]:
    if shell == "bash":
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        return {"_O2_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return {"_O2_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": words}


def typer_completion(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from cli.main import app; app(prog_name='o2')"],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert not done.stderr, done.stderr
    return done.stdout


SERVED = [
    "o2 ",
    "o2 g",
    "o2 de",
    "o2 zzz",
    "o2 get ",
    "o2 get en",
    "o2 describe T",
    "o2 get env ",
    "o2 get env phys",
    "o2 describe tc readout ",
    "o2 describe tc readout s",
    "o2 get nokind ",
    "o2 get runs ",
]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
@pytest.mark.parametrize("words", SERVED)
def test_fast_completion_prints_what_typer_prints(
    o2: O2, shell: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_samples(o2)
    env = {**o2.env, **shell_env(shell, words)}
    for name, value in o2.env.items():
        monkeypatch.setenv(name, value)
    fast = fast_completion(env)
    assert fast is not None, words
    assert fast == typer_completion(env)
    if words.startswith(("o2 get env ", "o2 describe tc ")):
        assert fast.strip("\n") and not fast.startswith("_files"), fast  # names were read


@pytest.mark.parametrize(
    "words",
    [
        "o2 get env -",
        "o2 get env -o ",
        "o2 --etcd http://x get env ",
        "o2 -v get env ",
        "o2 delete env ",
        "o2 get 'env' ",
        "o2 node ",
    ],
)
def test_other_lines_go_to_typer(words: str) -> None:
    assert fast_completion(shell_env("bash", words)) is None
    assert fast_completion(shell_env("zsh", words)) is None


def test_names_wait_as_long_as_typers_completion() -> None:
    assert fastcomplete.NAME_TIMEOUT == completion.NAME_TIMEOUT


def test_other_shells_and_the_install_scripts_go_to_typer() -> None:
    assert fast_completion({"_O2_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "o2 "}) is None
    assert fast_completion({"_O2_COMPLETE": "source_bash"}) is None


@pytest.mark.parametrize("words", ["o2 g", "o2 get en", "o2 get env "])
def test_served_completion_imports_no_typer(o2: O2, words: str) -> None:
    env = {**o2.env, **shell_env("bash", words)}
    roots = import_tree(["-c", "from cli.entry import main; main()"], env)
    chains = [" -> ".join(c) for r in roots for c in r.walk() if c[-1].split(".")[0] == "typer"]
    assert not chains, "\n".join(chains)
