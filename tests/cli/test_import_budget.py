"""What `o2` imports before doing any work, counted in modules (not milliseconds, so the test
does not depend on the machine's load): `import cli.main` stays within a budget, `--help` and
shell completion import no I/O library and no resource model; the paths that answer without
typer (raw reads, completion, the cached help) import only their pinned modules. A failure
names the import that broke the budget and the chain of modules that pulled it in."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from tests.cli.conftest import O2, REPO
from tests.cli.edit_helpers import with_samples

TYPER_AND_RICH_HELP = 150
"""Modules `import typer` brings by itself (~145 on Python 3.11)."""
OWN_BUDGET = 30
"""Modules o2 may add on top of typer's when `cli.main` is imported."""
BUDGET = TYPER_AND_RICH_HELP + OWN_BUDGET

IO_LIBRARIES = ("aiohttp", "grpc", "aetcd", "google.protobuf", "asyncio", "ssl", "yaml")
MODELS = ("crds.kinds", "crds.meta", "crds.resource", "store")
FORBIDDEN = IO_LIBRARIES + MODELS


@dataclass
class Node:
    """One line of `-X importtime`: a module and the modules its import pulled in."""

    name: str
    children: list[Node] = field(default_factory=list)

    def walk(self, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        """Every module under this one, with the chain of imports leading to it."""
        here = (*path, self.name)
        chains = [here]
        for child in self.children:
            chains.extend(child.walk(here))
        return chains


def import_tree(args: list[str], env: dict[str, str] | None = None) -> list[Node]:
    """The top-level imports of `python -X importtime ARGS`, each with its subtree."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        check=False,
    )
    pending: dict[int, list[Node]] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.endswith("| package"):
            continue
        raw = line.rsplit("|", 1)[1][1:]
        level = (len(raw) - len(raw.lstrip(" "))) // 2
        node = Node(raw.strip(), pending.pop(level + 1, []))
        pending.setdefault(level, []).append(node)
    return pending.get(0, [])


def forbidden_chains(roots: list[Node]) -> list[str]:
    chains = [chain for root in roots for chain in root.walk()]
    return [
        " -> ".join(chain)
        for chain in chains
        if any(chain[-1] == bad or chain[-1].startswith(bad + ".") for bad in FORBIDDEN)
        and not any(
            step == bad or step.startswith(bad + ".") for step in chain[:-1] for bad in FORBIDDEN
        )
    ]


def run_o2(*argv: str) -> list[str]:
    return ["-c", "from cli.main import main; main()", *argv]


def completing(words: str) -> dict[str, str]:
    return {
        "_O2_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }


def test_importing_cli_main_stays_within_its_module_budget() -> None:
    roots = import_tree(["-c", "import cli.main"])
    main = next(r for r in roots if r.name == "cli.main")
    total = sum(len(r.walk()) for r in roots)
    biggest = sorted(main.children, key=lambda c: -len(c.walk()))[:5]
    culprits = ", ".join(f"{c.name} ({len(c.walk())} modules)" for c in biggest)
    assert total <= BUDGET, (
        f"`import cli.main` imports {total} modules (budget {BUDGET}); its biggest top-level "
        f"imports: {culprits}. Import heavy modules inside the command that needs them."
    )
    for child in main.children:
        if child.name.startswith(("typer", "cli.")):
            continue
        assert len(child.walk()) <= OWN_BUDGET, (
            f"cli.main imports {child.name} at top level, which brings {len(child.walk())} "
            f"modules (budget {OWN_BUDGET}); import it inside the command that needs it"
        )


@pytest.mark.parametrize(
    ("what", "args", "env"),
    [
        ("import cli.main", ["-c", "import cli.main"], {}),
        ("o2 --help", run_o2("--help"), {}),
        ("o2 get --help", run_o2("get", "--help"), {}),
        ("o2 top tasks --help", run_o2("top", "tasks", "--help"), {}),
        ("completion of commands", run_o2(), completing("o2 g")),
        ("completion of KIND", run_o2(), completing("o2 get en")),
        ("completion of KIND for describe", run_o2(), completing("o2 describe ")),
    ],
)
def test_help_and_completion_import_no_io_library_and_no_model(
    what: str, args: list[str], env: dict[str, str]
) -> None:
    chains = forbidden_chains(import_tree(args, env))
    assert not chains, f"{what} imports what only commands that do I/O need:\n" + "\n".join(chains)


def test_the_tree_parser_attributes_modules_to_the_import_that_pulled_them_in() -> None:
    roots = import_tree(["-c", "import json"])
    json_node = next(r for r in roots if r.name == "json")
    assert "json.decoder" in {chain[-1] for chain in json_node.walk()}
    fake = [Node("cli.main", [Node("cli.commands.logs", [Node("aiohttp", [Node("ssl")])])])]
    assert forbidden_chains(fake) == ["cli.main -> cli.commands.logs -> aiohttp"]


FAST_PATH_MODULES = frozenset(
    {
        "cli",
        "cli.entry",
        "cli.options",
        "cli.helpcache",
        "cli.rawget",
        "cli.etcdgateway",
        "cli.plainhttp",
        "cli.tableout",
        "cli.plaintable",
        "cli.fastcomplete",
        "cli.lazy",
        "cli.selectors",
        "crds",
        "crds.kindnames",
        "crds.errors",
        "crds.labels",
    }
)
"""The only non-standard-library modules the paths that answer without typer may import
(`org` is the Jython probe of the standard `copy` module)."""
FAST_PATH_STDLIB_FORBIDDEN = (
    "asyncio",
    "concurrent",
    "email",
    "http",
    "multiprocessing",
    "ssl",
    "subprocess",
    "xml",
)
FAST_PATH_BUDGET = 110
"""Modules imported from `cli.entry` on, standard library included (~87 for `o2 get env`)."""


def after_entry(roots: list[Node]) -> list[tuple[str, ...]]:
    """Every import chain from `cli.entry` on (what Python itself imports at start-up, before
    the command runs, is not o2's)."""
    names = [r.name for r in roots]
    first = names.index("cli") if "cli" in names else names.index("cli.entry")
    return [chain for root in roots[first:] for chain in root.walk()]


RAW_VIEW_MODULES = frozenset({"cli.rawdescribe", "cli.describe_printers", "cli.printers", "rich"})
"""What `o2 describe env` drawn from the stored JSON adds: the printers and rich (any module)."""


def fast_path_offenders(
    chains: list[tuple[str, ...]], also: frozenset[str] = frozenset()
) -> list[str]:
    """Chains ending in a module the fast paths must not import (first offender of each);
    `also` allows more modules (a top-level name allows its submodules)."""
    offenders = []
    for chain in chains:
        name, top = chain[-1], chain[-1].split(".")[0]
        if top in sys.stdlib_module_names or top == "org":
            bad = any(name == f or name.startswith(f + ".") for f in FAST_PATH_STDLIB_FORBIDDEN)
        else:
            bad = name not in FAST_PATH_MODULES | also and top not in also
        if bad and not any(" -> ".join(chain).startswith(o + " -> ") for o in offenders):
            offenders.append(" -> ".join(chain))
    return offenders


@pytest.mark.parametrize(
    ("what", "argv", "env", "also", "budget"),
    [
        ("o2 get env (raw read)", ["get", "env"], {}, frozenset(), FAST_PATH_BUDGET),
        (
            "o2 get tasks -o name (raw read)",
            ["get", "tasks", "-o", "name"],
            {},
            frozenset(),
            FAST_PATH_BUDGET,
        ),
        ("completion of commands", [], completing("o2 g"), frozenset(), FAST_PATH_BUDGET),
        ("completion of KIND", [], completing("o2 get en"), frozenset(), FAST_PATH_BUDGET),
        ("completion of NAME", [], completing("o2 get env "), frozenset(), FAST_PATH_BUDGET),
        ("o2 --help (cached)", ["--help"], {}, frozenset(), FAST_PATH_BUDGET),
        ("o2 describe env (raw view)", ["describe", "env", "physics-1"], {}, RAW_VIEW_MODULES, 200),
    ],
)
def test_the_paths_without_typer_import_only_their_pinned_modules(
    o2: O2, *, what: str, argv: list[str], env: dict[str, str], also: frozenset[str], budget: int
) -> None:
    with_samples(o2)
    args = ["-c", "from cli.entry import main; main()", *argv]
    import_tree(args, {**o2.env, **env})  # the first --help fills the cache
    chains = after_entry(import_tree(args, {**o2.env, **env}))
    offenders = fast_path_offenders(chains, also)
    assert not offenders, (
        f"{what} imports modules outside its pinned set (FAST_PATH_MODULES, no "
        f"{', '.join(FAST_PATH_STDLIB_FORBIDDEN)}); import them only where needed:\n"
        + "\n".join(offenders)
    )
    assert len(chains) <= budget, f"{what} imports {len(chains)} modules (budget {budget})"


def test_the_fast_path_check_names_a_new_heavy_import() -> None:
    rawget = ("cli.entry", "cli.rawget")
    chains = [rawget[:1], rawget, (*rawget, "pydantic"), (*rawget, "pydantic", "pydantic.main")]
    chains += [("cli.etcdgateway", "json"), ("cli.etcdgateway", "asyncio")]
    assert fast_path_offenders(chains) == [
        "cli.entry -> cli.rawget -> pydantic",
        "cli.etcdgateway -> asyncio",
    ]
