"""`o2 get runs`: the run log (crds.runlog) as a table, names, JSON or YAML. Edge I/O.

The records are what the environment controller wrote when each run ended; the GUI's Runs page
reads the same keys. Printers here are pure; `get_runs` reads etcd once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cli.getargs import Format, Output
from cli.jsonpath import render
from cli.options import GlobalOptions
from cli.printers import json_text, render_table, yaml_text
from cli.runtime import connect, print_out, warn, write_out
from crds.errors import FieldError, ValidationError
from crds.meta import API_VERSION
from crds.runlog import LogReader, RunRecord, as_json, log_prefix, newest_first

if TYPE_CHECKING:
    from rich.table import Table

RUN_KINDS = frozenset({"runs", "run"})
HEADERS = ("RUN", "ENVIRONMENT", "RUN-TYPE", "DETECTORS", "STARTED", "DURATION", "RESULT")
WIDE = ("TRANSITIONS", "STARTED-BY", "STOPPED-BY", "ERROR")


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def run_row(record: RunRecord, *, wide: bool = False) -> list[str]:
    """One table row. Pure."""
    row = [
        str(record.run_number),
        record.environment,
        record.run_type,
        ",".join(record.detectors),
        _time(record.started_at_ms),
        _seconds(record.duration_seconds),
        "ERROR" if record.ended_in_error else "OK",
    ]
    if wide:
        steps = " ".join(f"{t.event}={_seconds(t.duration_seconds)}" for t in record.transitions)
        row += [steps, record.started_by, record.stopped_by, record.error]
    return row


def runs_table(records: Sequence[RunRecord], *, wide: bool = False) -> Table:
    """The runs, as `o2 get runs` prints them. Pure."""
    headers = HEADERS + WIDE if wide else HEADERS
    return render_table(headers, [run_row(r, wide=wide) for r in records])


def runs_document(records: Sequence[RunRecord]) -> dict[str, Any]:
    """`-o json|yaml`: a RunList (not a List of objects: `o2 apply` has nothing to apply)."""
    return {"apiVersion": API_VERSION, "kind": "RunList", "items": as_json(records)}


def check_arguments(
    kind: str, names: Sequence[str], *, env: str, detector: str, more: bool = False
) -> bool:
    """Whether KIND asks for runs; `--env`/`--detector` only go with it; names, `-l` and `-w`
    (`more`) never do."""
    if kind.lower() not in RUN_KINDS:
        if env or detector:
            message = "--env and --detector filter `o2 get runs` only"
            raise ValidationError([FieldError(path="--env/--detector", message=message)])
        return False
    if names or more:
        message = "runs take no NAME, -l or -w: filter with --env ENV and --detector DETECTOR"
        raise ValidationError([FieldError(path="runs", message=message)])
    return True


async def get_runs(opts: GlobalOptions, *, env: str, detector: str, output: Format) -> None:
    async with connect(opts) as store:
        assert isinstance(store, LogReader)  # an EtcdStore: resources and raw runtime keys
        raw = await store.list_raw(log_prefix(store.prefix))
    records = newest_first(raw, environment=env, detector=detector)
    document = runs_document(records)
    if output.mode is Output.json:
        write_out(json_text(document))
    elif output.mode is Output.yaml:
        write_out(yaml_text(document))
    elif output.mode is Output.jsonpath:
        write_out(render(document, output.template))
    elif output.mode is Output.name:
        write_out("".join(f"run/{r.run_number}\n" for r in records))
    elif records:
        print_out(runs_table(records, wide=output.mode is Output.wide))
    else:
        warn("No runs found.")
