"""What `o2 get` does once its arguments are parsed: read, print, watch. Kept apart from
cli.commands.get so that `o2 get --help` and completing its arguments import none of this
(rich tables, the models, the etcd client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from cli.getargs import DOCUMENT_MODES, Format, Output, label_selector, parse_output
from cli.jsonpath import render
from cli.options import GlobalOptions
from cli.printers import (
    column_widths,
    json_text,
    object_names,
    output_document,
    resource_rows,
    table_headers,
    table_row,
    unreadable_text,
    yaml_text,
)
from cli.runtime import connect, print_table, warn, write_out
from cli.selectors import matches, resolve_kinds
from crds.errors import FieldError, O2Error, ValidationError
from crds.resource import KindInfo, Resource
from store.api import Store
from store.informer import CacheEvent, Informer


@dataclass
class WatchPrinter:
    """Prints one row (or document) per change, aligned with the table printed before it."""

    info: KindInfo
    output: Format
    widths: list[int] = field(default_factory=list)
    header_done: bool = False

    def initial(self, objs: list[Resource], *, now: datetime) -> None:
        wide = self.output.mode is Output.wide
        if self.output.mode in (Output.table, Output.wide):
            headers = table_headers(self.info, wide=wide)
            rows = [table_row(self.info, o, now=now, wide=wide) for o in objs]
            self.widths = column_widths(headers, rows)
            if objs:
                print_table(headers, rows, min_widths=self.widths)
                self.header_done = True
        else:  # a stream of single documents, as every change after it
            for obj in objs:
                self.change(obj, now=now)

    def change(self, obj: Resource, *, now: datetime) -> None:
        if self.output.mode not in (Output.table, Output.wide):
            print_objects(self.info, [obj], output=self.output, single=True, separate=True)
            return
        wide = self.output.mode is Output.wide
        headers = table_headers(self.info, wide=wide)
        row = table_row(self.info, obj, now=now, wide=wide)
        if not self.widths:
            self.widths = column_widths(headers, [row])
        print_table(headers, [row], min_widths=self.widths, show_header=not self.header_done)
        self.header_done = True


def print_objects(
    info: KindInfo,
    objs: list[Resource],
    *,
    output: Format,
    single: bool,
    separate: bool = False,
    qualify: bool = False,
) -> None:
    now = datetime.now(UTC)
    if output.mode is Output.name:
        write_out("".join(n + "\n" for n in object_names(info, objs)))
    elif output.mode is Output.json:
        write_out(json_text(output_document(objs, single=single)))
    elif output.mode is Output.jsonpath:
        newline = "\n" if separate else ""
        write_out(render(output_document(objs, single=single), output.template) + newline)
    elif output.mode is Output.yaml:
        prefix = "---\n" if separate else ""
        write_out(prefix + yaml_text(output_document(objs, single=single)))
    elif objs:
        wide = output.mode is Output.wide
        print_table(*resource_rows(info, objs, now=now, wide=wide, qualify=qualify))


async def _get_named(
    store: Store, info: KindInfo, names: list[str]
) -> tuple[list[Resource], list[O2Error]]:
    """The named objects that could be read, and an error for each that could not."""
    objs: list[Resource] = []
    errors: list[O2Error] = []
    for name in names:
        try:
            objs.append(await store.get(info.model, name))
        except O2Error as exc:
            errors.append(exc)
    return objs, errors


def _many(errors: list[O2Error]) -> ValidationError:
    return ValidationError([FieldError(path="", message=str(e)) for e in errors])


async def _list(
    store: Store, info: KindInfo, selector: dict[str, str], names: list[str]
) -> tuple[list[Resource], int]:
    result = await store.list(info.model, labels=selector or None)
    for err in result.unreadable:
        warn(unreadable_text(err))
    items = [o for o in result.items if not names or o.metadata.name in names]
    items = [o for o in items if matches(o.metadata.labels, selector)]
    return sorted(items, key=lambda o: o.metadata.name), result.revision


async def get_command_body(
    opts: GlobalOptions,
    *,
    kind: str,
    names: list[str],
    output: str,
    selector: str | None,
    watch: bool,
    env: str,
    detector: str,
) -> None:
    """`o2 get` with its arguments as typed: the run log for `runs`, else objects."""
    from cli.runs import check_arguments, get_runs

    more = watch or selector is not None
    if check_arguments(kind, names, env=env, detector=detector, more=more):
        await get_runs(opts, env=env, detector=detector, output=parse_output(output))
        return
    await get_objects(
        opts,
        kind=kind,
        names=names,
        output=parse_output(output),
        selector=label_selector(selector),
        watch=watch,
    )


async def get_objects(
    opts: GlobalOptions,
    *,
    kind: str,
    names: list[str],
    output: Format,
    selector: dict[str, str],
    watch: bool,
) -> None:
    infos = resolve_kinds(kind)
    if len(infos) > 1 and (names or watch):
        what = "NAMEs need" if names else "--watch needs"
        message = f"{what} a single KIND, not `all`"
        raise ValidationError([FieldError(path="KIND", message=message)])
    async with connect(opts) as store:
        if watch:
            await _watch(store, infos[0], names=names, output=output, selector=selector)
            return
        if names:
            objs, errors = await _get_named(store, infos[0], names)
            if objs:
                print_objects(infos[0], objs, output=output, single=len(names) == 1)
            if errors:
                raise errors[0] if len(errors) == 1 else _many(errors)
            return
        await _list_kinds(store, infos, output=output, selector=selector, many=len(infos) > 1)


async def _list_kinds(
    store: Store, infos: list[KindInfo], *, output: Format, selector: dict[str, str], many: bool
) -> None:
    found: list[tuple[KindInfo, list[Resource]]] = []
    for info in infos:
        objs, _ = await _list(store, info, selector, [])
        if objs:
            found.append((info, objs))
    if not found:
        if output.mode in DOCUMENT_MODES:
            print_objects(infos[0], [], output=output, single=False)
        else:
            warn("No resources found.")
        return
    if output.mode in DOCUMENT_MODES and many:
        every = [o for _, objs in found for o in objs]
        print_objects(found[0][0], every, output=output, single=False)
        return
    for i, (info, objs) in enumerate(found):
        if i and output.mode in (Output.table, Output.wide):
            write_out("\n")
        print_objects(info, objs, output=output, single=False, qualify=many)


async def _watch(
    store: Store,
    info: KindInfo,
    *,
    names: list[str],
    output: Format,
    selector: dict[str, str],
) -> None:
    """List, then one row per change, through the shared informer (resume, relist, stalls)."""
    printer = WatchPrinter(info=info, output=output)
    informer: Informer[Resource] = Informer(store, info.model)
    informer.on_unreadable(lambda err: warn(unreadable_text(err)))
    running = informer.start()
    try:
        await informer.wait_synced()
        wanted = [o for o in informer.list() if _wanted(o, names=names, selector=selector)]
        printer.initial(sorted(wanted, key=lambda o: o.metadata.name), now=datetime.now(UTC))
        live = False  # add_handler replays the cache as ADDED: already printed above

        def on_change(event: CacheEvent[Resource]) -> None:
            if live and _wanted(event.obj, names=names, selector=selector):
                printer.change(event.obj, now=datetime.now(UTC))

        informer.add_handler(on_change)
        live = True
        await running
    finally:
        await informer.stop()


def _wanted(obj: Resource, *, names: list[str], selector: dict[str, str]) -> bool:
    if names and obj.metadata.name not in names:
        return False
    return matches(obj.metadata.labels, selector)
