"""`o2 convert aliecs DIR`: an AliECS repository as o2 manifests (crds.aliecs), offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import GlobalOptions
from cli.runtime import run, warn, write_out
from crds.aliecs.load import KINDS, SUFFIX, SourceFile, Translation, translate
from crds.aliecs.output import manifest_path, manifest_text, missing_plugins, single_text
from crds.errors import FieldError, ValidationError
from crds.manifest_limits import oversize_file

HELP = """Translate an AliECS workflow repository (such as AliceO2Group/ControlWorkflows)
into o2 manifests, for review or migration. Reads nothing but DIR; needs no cluster.

Each `DIR/workflows/NAME.yaml` becomes a Workflow NAME and each `DIR/tasks/NAME.yaml` a
TaskClass NAME (`jit/` files are not objects: includes read them when an environment is
created). A GitSource with `format: aliecs` uses the same translator, so `o2 apply -f` of
this output gives the same objects as syncing the repository.

The translation keeps AliECS's meaning: `task.load` is `class`, `!public` variables become
typed declarations in `spec.variables` (their values stay in defaults/vars), `command.env`
lists become maps, `{{ }}` expressions are rewritten into o2's template dialect, calls get
AliECS's 30 s default timeout. Names that are not DNS labels are lower-cased (the AliECS name
is kept in the `o2.dev/aliecs-name` annotation). Any problem is printed as
`file:line: construct: problem` and nothing is written. Constructs AliECS silently drops are
dropped too and reported as warnings on stderr, as are plugin functions (`func:`) that are not
installed here (`o2 apply` refuses those Workflows until the plugin is installed).

**Output**: stdout by default (multi-document YAML); `-o FILE.yaml` one file; `-o DIR` one
file per object (`DIR/workflows/NAME.yaml`, `DIR/taskclasses/NAME.yaml`).

**Examples**

```
o2 convert aliecs ~/ControlWorkflows                       # print every object
o2 convert aliecs ~/ControlWorkflows -o converted/         # one file per object
o2 convert aliecs ~/ControlWorkflows -o all.yaml && o2 apply -f all.yaml
```

To follow the repository instead of converting it once, create a GitSource:
`spec: {url: https://github.com/AliceO2Group/ControlWorkflows, ref: master, format: aliecs}`.
"""

convert_app = typer.Typer(
    name="convert",
    help=(
        "Translate other systems' files into o2 manifests, offline (no cluster needed).\n\n"
        "**Examples**\n\n"
        "```\n"
        "o2 convert aliecs ~/ControlWorkflows -o converted/\n"
        "o2 convert aliecs --help\n"
        "```"
    ),
    no_args_is_help=True,
)


def read_repository(root: Path) -> list[SourceFile]:
    """The files the translator reads: `workflows/*.yaml` and `tasks/*.yaml` under `root`."""
    if not root.is_dir():
        raise ValidationError([FieldError(path="DIR", message=f"{root} is not a directory")])
    files: list[SourceFile] = []
    errors: list[FieldError] = []
    for folder in KINDS:
        for path in sorted((root / folder).glob(f"*{SUFFIX}")):
            rel = path.relative_to(root).as_posix()
            too_big = oversize_file(path.stat().st_size, source=rel)
            if too_big is not None:
                errors.append(too_big)
                continue
            files.append(SourceFile(path=rel, text=path.read_text()))
    if errors:
        raise ValidationError(errors)
    if not files:
        message = f"no workflows/*.yaml or tasks/*.yaml under {root}: is it an AliECS repository?"
        raise ValidationError([FieldError(path="DIR", message=message)])
    return files


def write_translation(translation: Translation, *, source: Path, out: Path | None) -> list[str]:
    """Write the manifests (stdout, one file, or one per object); the paths written."""
    objs = translation.objects
    header = f"Converted by `o2 convert aliecs` from {source}"
    if out is None:
        write_out(manifest_text(objs, header=header))
        return []
    if out.suffix in (".yaml", ".yml", ".json") and not out.is_dir():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(manifest_text(objs, header=header))
        return [str(out)]
    written = []
    for obj in objs:
        target = out / manifest_path(obj)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(single_text(obj))
        written.append(str(target))
    return written


async def _convert(_: GlobalOptions, *, directory: Path, out: Path | None) -> None:
    translation = translate(read_repository(directory))
    for warning in translation.warnings:
        warn(f"warning: {warning.render()}")
    missing = missing_plugins(translation.objects)
    if missing:
        warn(
            f"warning: plugin functions not installed here: {', '.join(missing)} "
            "(o2 apply refuses the Workflows calling them until their plugins are installed)"
        )
    written = write_translation(translation, source=directory, out=out)
    if written:
        warn(f"{len(translation.objects)} objects written to {out}")


@convert_app.command("aliecs", help=HELP, short_help="An AliECS repository as o2 manifests.")
def convert_aliecs(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The repository (holding workflows/, tasks/).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="FILE.yaml (one file) or DIR (one file per object); default: stdout.",
        ),
    ] = None,
) -> None:
    run(ctx, lambda opts: _convert(opts, directory=directory, out=output))


def register(app: typer.Typer) -> None:
    app.add_typer(convert_app)
