"""Configuration payloads: format checks with line numbers, and `{{ }}` rendering. Pure.

Shared by the CLI (`o2 config show --render`) and the controllers, so a task receives exactly
what `o2 config show --render` prints.

Rendering uses o2's one template sandbox, crds.templating, with its PAYLOAD limits: the same
rules and helpers (`as_list`, `json`, `strings.*`, ...) as workflow values, only `{{ }}`
expressions (no `{% %}` statements), undefined names are errors, values print as text, output
bounded by MAX_OUTPUT, the trailing newline kept. Payloads are rendered as a whole; on an error
the failing line is found by rendering each line alone, so the error names it.
"""

from __future__ import annotations

import configparser
import json
from collections.abc import Iterator, Mapping
from typing import Literal, cast

import jinja2
import yaml

from crds.errors import ConfigError, TemplateError
from crds.manifest_limits import check_yaml
from crds.templatework import OBJECT_WORK, Work, WorkBudgetError, metered
from crds.templating import (
    ENGINE,
    MAX_OUTPUT,
    PAYLOAD,
    TemplateBudgetError,
    TemplateSourceError,
    compile_template,
    evaluate,
    run,
    with_helpers,
)

Format = Literal["ini", "json", "yaml", "text"]
FORMATS: tuple[Format, ...] = ("ini", "json", "yaml", "text")
EXTENSIONS: dict[str, Format] = {
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".txt": "text",
}
__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "MAX_OUTPUT",
    "Format",
    "check_format",
    "check_payload",
    "check_template",
    "format_for",
    "parse_payload",
    "render",
]


def format_for(filename: str, default: Format = "text") -> Format:
    """The payload format a file extension implies (`.ini`, `.json`, `.yaml`/`.yml`, ...)."""
    dot = filename.rfind(".")
    return EXTENSIONS.get(filename[dot:].lower(), default) if dot >= 0 else default


def check_format(fmt: str, data: str, *, config: str = "payload") -> None:
    """ConfigError naming `config` and the line when `data` does not parse as `fmt`.

    Answers for well-formed payloads are cached: the tasks of a role mostly receive the same
    rendered text, and parsing (configparser above all) costs far more than rendering.
    """
    if (fmt, data) in _WELL_FORMED:
        return
    parse_payload(fmt, data, config=config)
    if len(_WELL_FORMED) >= WELL_FORMED_CACHE:
        _WELL_FORMED.clear()
    _WELL_FORMED.add((fmt, data))


_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it: the pure one spends time quadratic in the nesting
depth (a 200 KB payload 300 lists deep took 5.6 s) and recurses until RecursionError."""

WELL_FORMED_CACHE = 512
_WELL_FORMED: set[tuple[str, str]] = set()


def parse_payload(fmt: str, data: str, *, config: str = "payload") -> object:
    """The parsed payload; ConfigError naming `config` and the line when it does not parse."""
    if fmt == "text":
        return data
    if fmt == "json":
        return _parse_json(data, config)
    if fmt == "yaml":
        return _parse_yaml(data, config)
    if fmt == "ini":
        return _parse_ini(data, config)
    raise ConfigError(config, f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


def _parse_json(data: str, config: str) -> object:
    try:
        return cast(object, json.loads(data))
    except json.JSONDecodeError as exc:
        raise ConfigError(config, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
    except RecursionError as exc:
        raise ConfigError(config, "invalid JSON: nested too deeply") from exc
    except ValueError as exc:  # a number of thousands of digits
        raise ConfigError(config, f"invalid JSON: {exc}") from exc


def _parse_yaml(data: str, config: str) -> object:
    broken = check_yaml(data, source=config, what="o2 config payloads")  # as manifests
    if broken is not None:
        raise ConfigError(config, f"invalid YAML: {broken.message}")
    try:
        return cast(object, yaml.load(data, Loader=_YAML_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(config, f"invalid YAML: {reason}", line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(config, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(config, "invalid YAML: nested too deeply") from exc
    except (ValueError, OverflowError) as exc:  # `2024-13-01`, an integer of 5000 digits
        reason = f"invalid YAML value: {exc} (quote the value to keep it as text)"
        raise ConfigError(config, reason) from exc


def _parse_ini(data: str, config: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data)
    except configparser.MissingSectionHeaderError as exc:
        reason = "invalid INI: a key before the first [section]"
        raise ConfigError(config, reason, line=exc.lineno) from exc
    except configparser.ParsingError as exc:
        line = exc.errors[0][0]
        text = data.splitlines()[line - 1].strip() if 0 < line <= data.count("\n") + 1 else ""
        raise ConfigError(config, f"invalid INI: cannot parse {text!r}", line=line) from exc
    except configparser.DuplicateSectionError as exc:
        reason = f"invalid INI: section [{exc.section}] appears twice"
        raise ConfigError(config, reason, line=exc.lineno) from exc
    except configparser.DuplicateOptionError as exc:
        reason = f"invalid INI: key {exc.option!r} appears twice in [{exc.section}]"
        raise ConfigError(config, reason, line=exc.lineno) from exc
    except configparser.Error as exc:
        raise ConfigError(config, f"invalid INI: {exc.message}") from exc
    return {name: dict(parser[name]) for name in parser.sections()}


def check_template(payload: str, *, config: str = "payload") -> None:
    """ConfigError (with the line) when the placeholders of `payload` do not compile."""
    if "{{" in payload or "{%" in payload:
        _compile(payload, config=config)


class _Probe(jinja2.ChainableUndefined):
    """Stands for any variable when checking a templated payload before it is rendered."""

    def __str__(self) -> str:
        return "0"


class _Probing(Mapping[str, object]):
    """Every name is defined: helpers are themselves, anything else is a `_Probe`."""

    def __getitem__(self, key: str) -> object:
        if key in ENGINE.globals:
            return ENGINE.globals[key]
        return _Probe(name=key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(ENGINE.globals)

    def __len__(self) -> int:
        return len(ENGINE.globals)


def check_payload(fmt: str, payload: str, *, config: str = "payload") -> None:
    """ConfigError (with the line) when `payload` cannot be right whatever the variables are.

    Placeholders must compile. A payload without them must parse as `fmt`; one with them is
    parsed with every placeholder read as `0`, which keeps ini, yaml and json (values, quoted
    keys) well-formed, and the error says so. A placeholder that fails even then (a filter
    that cannot take `0`) is left to the real render.
    """
    check_template(payload, config=config)
    if "{{" not in payload:
        parse_payload(fmt, payload, config=config)
        return
    try:
        with metered(OBJECT_WORK, scope=f"{config}'s templates"):
            probed = run(compile_template(payload, limits=PAYLOAD), _Probing(), limits=PAYLOAD)
    except TemplateBudgetError as exc:  # too costly even with every placeholder read as 0
        raise ConfigError(config, f"template error: {exc}") from exc
    except Exception:
        return
    try:
        parse_payload(fmt, probed, config=config)
    except ConfigError as exc:
        reason = f"{exc.reason} (with each placeholder read as 0)"
        raise ConfigError(config, reason, line=exc.line) from exc


def render(payload: str, variables: Mapping[str, object], *, config: str = "payload") -> str:
    """`payload` with its `{{ }}` placeholders evaluated against `variables` (looked up by name
    only, so a lazy scope works as is) and the sandbox's helpers.

    ConfigError names `config`, the line and the reason (an undefined name, a syntax error, a
    statement where only expressions are allowed, a bound of the sandbox).
    """
    if "{{" not in payload and "{%" not in payload:
        return payload
    template = _compile(payload, config=config)
    with metered(OBJECT_WORK, scope=f"{config}'s templates") as meter:
        try:
            return _evaluate(template, variables, source=payload)
        except TemplateError as exc:
            cause = exc.__cause__
            spent = isinstance(cause, WorkBudgetError) and cause.work is meter  # no line to blame
            line = None if spent else _failing_line(payload, variables, meter)
            raise ConfigError(config, exc.reason, line=line) from exc


def _evaluate(template: jinja2.Template, variables: Mapping[str, object], *, source: str) -> str:
    hint = "define it in the task's variables, or check its spelling"
    parent = with_helpers(variables)
    try:
        return evaluate(template, parent, where="payload", source=source, limits=PAYLOAD, hint=hint)
    except TemplateError:
        raise
    except Exception as exc:  # a bound of the sandbox (TemplateBudgetError)
        raise TemplateError("payload", source, str(exc)) from exc


def _compile(source: str, *, config: str) -> jinja2.Template:
    try:
        return compile_template(source, limits=PAYLOAD)
    except TemplateSourceError as exc:
        raise ConfigError(config, f"template error: {exc.reason}", line=exc.line) from exc


def _failing_line(payload: str, variables: Mapping[str, object], meter: Work) -> int | None:
    """The first line that fails when rendered alone (None for multi-line expressions, and when
    `meter`, the whole render's, runs out first: no line is to blame)."""
    for number, line in enumerate(payload.splitlines(), start=1):
        if "{{" not in line:
            continue
        try:
            _evaluate(compile_template(line, limits=PAYLOAD), variables, source=line)
        except TemplateSourceError:
            continue  # part of an expression that spans lines
        except TemplateError as exc:
            cause = exc.__cause__
            return None if isinstance(cause, WorkBudgetError) and cause.work is meter else number
    return None
