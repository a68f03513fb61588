"""`o2 events`: Events as a table by last occurrence, or streamed from the watch with -w."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from cli.eventlist import EventFilter
    from cli.options import GlobalOptions
    from store.api import Store

HELP = """List Events (what controllers report about objects), the most recent last.

Columns: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, COUNT (`-o wide` adds FIRST SEEN, SOURCE
and the Event's NAME). With -w the list is followed by one row for each Event created or
updated afterwards, as the etcd watch delivers it (no polling). Events expire (etcd lease).

**Examples**

```
o2 events
o2 events --for env/physics-1
o2 events --types Warning -o wide
o2 events --for environment/physics-1 -o json
o2 events -w --types Warning      # then every new warning as it happens
```
"""

Mode = Literal["table", "wide", "json", "yaml"]
MODES: tuple[Mode, ...] = ("table", "wide", "json", "yaml")


class EventPrinter:
    """Rows aligned with the table printed first, or one document per Event."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.widths: list[int] = []
        self.header_done = False

    def table(self, events: list[dict[str, Any]]) -> None:
        from datetime import UTC, datetime

        from cli import event_printers
        from cli.printers import column_widths, render_table
        from cli.runtime import print_out, warn

        wide = self.mode == "wide"
        headers = event_printers.headers(wide=wide)
        now = datetime.now(UTC)
        rows = [event_printers.row(e, now=now, wide=wide) for e in events]
        self.widths = column_widths(headers, rows or [headers])
        if rows:
            print_out(render_table(headers, rows, min_widths=self.widths))
            self.header_done = True
        else:
            warn("No events found.")

    def listing(self, events: list[dict[str, Any]]) -> None:
        from cli.printers import json_text, yaml_text
        from cli.runtime import write_out
        from crds.meta import API_VERSION

        if self.mode in ("table", "wide"):
            self.table(events)
            return
        document = {"apiVersion": API_VERSION, "kind": "List", "items": events}
        write_out(json_text(document) if self.mode == "json" else yaml_text(document))

    def initial(self, events: list[dict[str, Any]]) -> None:
        """What -w shows first: the table, or (json, yaml) one document per Event, as every
        later change is shown."""
        if self.mode in ("table", "wide"):
            self.table(events)
        else:
            for event in events:
                self.change(event)

    def change(self, event: dict[str, Any]) -> None:
        from datetime import UTC, datetime

        from cli import event_printers
        from cli.printers import json_text, render_table, yaml_text
        from cli.runtime import print_out, write_out

        if self.mode == "json":
            write_out(json_text(event))
        elif self.mode == "yaml":
            write_out("---\n" + yaml_text(event))
        else:
            wide = self.mode == "wide"
            cells = event_printers.row(event, now=datetime.now(UTC), wide=wide)
            headers = event_printers.headers(wide=wide)
            shown = not self.header_done
            print_out(render_table(headers, [cells], min_widths=self.widths, show_header=shown))
            self.header_done = True


async def _events(opts: GlobalOptions, *, wanted: EventFilter, mode: Mode, watch: bool) -> None:
    from cli.eventlist import read_events
    from cli.printers import unreadable_text
    from cli.runtime import connect, warn

    printer = EventPrinter(mode)
    async with connect(opts) as store:
        if not watch:
            found = await read_events(store, wanted)
            for err in found.unreadable:
                warn(unreadable_text(err))
            printer.listing(found.events)
            return
        await follow_events(store, wanted, printer)


async def follow_events(store: Store, wanted: EventFilter, printer: EventPrinter) -> None:
    """The wanted Events, then each one added or changed, through an informer on the Event
    kind (the store's watch, resumed and relisted by the informer): no polling."""
    from cli.printers import event_sort_key, unreadable_text
    from cli.runtime import warn
    from crds.kinds.event import Event
    from store.informer import CacheEvent, Informer

    informer: Informer[Event] = Informer(store, Event)
    informer.on_unreadable(lambda err: warn(unreadable_text(err)))
    running = informer.start()
    try:
        await informer.wait_synced()
        wires = [e.to_wire() for e in informer.list()]
        printer.initial(sorted((e for e in wires if wanted.wants(e)), key=event_sort_key))
        live = False  # add_handler replays the cache as ADDED: already printed above

        def on_change(change: CacheEvent[Event]) -> None:
            if not live or change.new is None:
                return  # an Event expiring (deleted) is not news
            wire = change.new.to_wire()
            if wanted.wants(wire):
                printer.change(wire)

        informer.add_handler(on_change)
        live = True
        await running
    finally:
        await informer.stop()


def events_command(
    ctx: typer.Context,
    *,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="After listing, stream new and updated Events.")
    ] = False,
    about: Annotated[
        str | None,
        typer.Option("--for", metavar="KIND/NAME", help="Only Events about this object."),
    ] = None,
    types: Annotated[
        str | None, typer.Option("--types", help="Only these types: Normal, Warning (comma list).")
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="table, wide, json or yaml.")
    ] = "table",
) -> None:
    from cli.eventlist import EventFilter, parse_for, parse_types
    from cli.runtime import run
    from crds.errors import FieldError, ValidationError

    def body(opts: GlobalOptions) -> Any:
        mode = next((m for m in MODES if m == output), None)
        if mode is None:
            message = f"{output!r}: use table, wide, json or yaml"
            raise ValidationError([FieldError(path="-o", message=message)])
        kind, name = parse_for(about) if about else ("", "")
        wanted = EventFilter(kind=kind, name=name, types=parse_types(types))
        return _events(opts, wanted=wanted, mode=mode, watch=watch)

    run(ctx, body)


def register(app: typer.Typer) -> None:
    app.command("events", help=HELP, short_help="List Events, or stream them with -w.")(
        events_command
    )
