"""`o2 edit KIND NAME`: the object as YAML in $O2_EDITOR/$EDITOR, written back on save with
the resourceVersion that was read (compare-and-swap), re-opened on an error as kubectl does."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.completion import complete_name
from cli.selectors import complete_kind
from crds.errors import FieldError, ValidationError

if TYPE_CHECKING:
    from cli.options import GlobalOptions
    from crds.resource import Resource
    from store.api import Store

HELP = """Edit one object in your editor: `$O2_EDITOR`, else `$EDITOR`, else `vi` (split as a
shell would, so `O2_EDITOR="code --wait"` works).

The file shows the object's kind, name, labels, annotations, resourceVersion and spec (status
belongs to the controllers and is not shown). On save, spec, labels and annotations are
validated as `o2 apply` validates a manifest and written with the resourceVersion that was read
(compare-and-swap): `kind/name edited`. If the object is invalid, the file is opened again with
the errors as `#` lines at the top; if someone else changed the object meanwhile, it is opened
again with their changes as `#` lines, and saving it writes your version over theirs. Saving
the file unchanged or empty cancels: "Edit cancelled, no changes made." (exit 0); saving it
unchanged after an error gives up with exit 1 and keeps a copy of your edits.

**Examples**

```
o2 edit env physics-1
o2 edit workflow readout-dataflow
o2 edit taskclass readout
```
"""

CANCELLED = "Edit cancelled, no changes made."


@dataclass
class EditSession:
    """One edit: the object it compares against and what the file shows next."""

    store: Store
    current: Resource
    path: Path
    shown: str = ""
    comments: list[str] = field(default_factory=list)
    after_conflict: bool = False

    async def run(self) -> None:
        from cli.editing import editable_text

        self.shown = editable_text(self.current)
        while True:
            saved = await self.open_editor()
            if await self.save(saved):
                return

    async def open_editor(self) -> str:
        from cli.editing import editor_argv, with_comments

        written = with_comments(self.shown, self.comments)
        self.path.write_text(written, encoding="utf-8")
        argv = editor_argv(os.environ, str(self.path))
        await asyncio.to_thread(run_editor, argv)
        return self.path.read_text(encoding="utf-8")

    async def save(self, saved: str) -> bool:
        """Write the saved file (True: done), or prepare the next round (False)."""
        from cli.editing import from_edited, is_blank, strip_comments
        from cli.envcheck import check_environments
        from cli.modify import Change
        from cli.runtime import warn, write_out
        from crds.errors import ConflictError

        text = strip_comments(saved)
        if is_blank(saved):
            warn(CANCELLED)
            return True
        if text == self.shown and not self.after_conflict:
            return self.cancel(saved)
        try:
            wanted = from_edited(self.current, text, source=str(self.path))
            if not Change(self.current, wanted).changed:
                warn(CANCELLED)
                return True
            await check_environments(self.store, [wanted])
            await self.store.update(wanted)
        except ValidationError as exc:
            self.comments = [f"{self.current.ref} was not valid:"]
            self.comments += [f"* {where(error)}" for error in exc.errors]
            self.shown, self.after_conflict = text, False
            return False
        except ConflictError:
            await self.reread(text)
            return False
        write_out(f"{self.current.ref} edited\n")
        return True

    async def reread(self, text: str) -> None:
        """After a lost compare-and-swap: show what changed meanwhile; compare against it."""
        from cli.editing import with_resource_version
        from cli.modify import Change

        fresh = await self.store.get(type(self.current), self.current.name)
        before, after = self.current.metadata.resource_version, fresh.metadata.resource_version
        self.comments = [
            f"{self.current.ref} was changed by someone else while you edited it "
            f"(resourceVersion {before} -> {after}); their changes:",
            Change(self.current, fresh).diff() or "(only status or server fields)",
            "Your version is below. Saving writes it over theirs: merge their changes",
            "into it first, or empty the file to cancel.",
        ]
        self.current, self.after_conflict = fresh, True
        self.shown = with_resource_version(text, after)

    def cancel(self, saved: str) -> bool:
        """Saved unchanged: nothing to do, or (after an error) give up, keeping the edits."""
        from cli.runtime import warn

        if not self.comments:
            warn(CANCELLED)
            return True
        handle, kept = tempfile.mkstemp(prefix="o2-edit-", suffix=".yaml")
        with os.fdopen(handle, "w", encoding="utf-8") as copy:
            copy.write(saved)
        message = f"Edit cancelled, no valid changes were saved; your edits are kept in {kept}"
        raise ValidationError([FieldError(path="", message=message)])


def where(error: FieldError) -> str:
    """An error as the file's comments show it: the file is the one being edited."""
    return replace(error, source="", document=None).render()


def run_editor(argv: list[str]) -> None:
    """Run the editor on the terminal; a failure to start or a non-zero exit aborts the edit."""
    try:
        done = subprocess.run(argv, check=False)
    except OSError as exc:
        message = f"cannot run {argv[0]!r} ({exc.strerror}): set O2_EDITOR or EDITOR"
        raise ValidationError([FieldError(path="$EDITOR", message=message)]) from exc
    if done.returncode != 0:
        message = f"{argv[0]!r} exited with status {done.returncode}: nothing was written"
        raise ValidationError([FieldError(path="$EDITOR", message=message)])


async def _edit(opts: GlobalOptions, *, kind: str, name: str) -> None:
    from cli.runtime import connect
    from crds.resource import kind_info

    model = kind_info(kind).model
    async with connect(opts) as store:
        current = await store.get(model, name)
        with tempfile.TemporaryDirectory(prefix="o2-edit-") as folder:
            path = Path(folder) / f"{current.kind.lower()}-{name}.yaml"
            await EditSession(store, current, path).run()


def edit_command(
    ctx: typer.Context,
    *,
    kind: Annotated[
        str,
        typer.Argument(metavar="KIND", help="Kind or short name.", autocompletion=complete_kind),
    ],
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="Object name.", autocompletion=complete_name),
    ],
) -> None:
    from cli.runtime import run

    run(ctx, lambda opts: _edit(opts, kind=kind, name=name))


def register(app: typer.Typer) -> None:
    app.command("edit", help=HELP, short_help="Edit one object in $EDITOR (compare-and-swap).")(
        edit_command
    )
