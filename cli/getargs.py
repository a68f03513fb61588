"""The output formats and label selectors of `o2 get`, parsed without typer: the command's
typer signature (cli.commands.get) and the fast path that runs `o2 get` without typer
(cli.entry) share them. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cli.jsonpath import check_template
from cli.selectors import modern_selector, parse_selector
from crds.errors import FieldError, ValidationError


class Output(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"
    jsonpath = "jsonpath"


DOCUMENT_MODES = (Output.json, Output.yaml, Output.jsonpath)
"""Modes that print one document (an object or a List), never tables."""


@dataclass(frozen=True)
class Format:
    """A parsed `-o`: the mode, and the template of `-o jsonpath=TEMPLATE`."""

    mode: Output
    template: str = ""


def parse_output(text: str) -> Format:
    """`table|wide|json|yaml|name` or `jsonpath=TEMPLATE` (e.g. `jsonpath={.status.state}`)."""
    mode, _, template = text.partition("=")
    if mode == Output.jsonpath and template:
        return Format(Output.jsonpath, check_template(template))
    if mode in Output.__members__ and mode != Output.jsonpath and not template:
        return Format(Output(mode))
    raise ValidationError(
        [
            FieldError(
                path="-o",
                message=f"{text!r}: use table, wide, json, yaml, name or jsonpath=TEMPLATE",
            )
        ]
    )


def label_selector(text: str | None) -> dict[str, str]:
    """`-l`, with deprecated o2 label keys renamed (and one warning line on stderr)."""
    selector, warning = modern_selector(parse_selector(text))
    if warning:
        from cli.runtime import warn

        warn(warning)
    return selector
