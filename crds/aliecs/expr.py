"""AliECS template values (`{{ expr-lang }}`) translated into o2's Jinja2 dialect. Pure: no I/O.

AliECS renders a value by cutting it at `{{` and the first `}}` after it (fasttemplate) and running
each piece as an expr-lang program. o2 keeps one evaluator: `to_o2` parses each piece with a lark
grammar (crds.aliecs.grammar) and writes the same expression in o2's dialect, which the one
sandbox (crds.templating) then bounds and meters like any o2 template. In a value holding
expressions, literal text that Jinja would read as syntax (`{%`, `{#`, a last newline Jinja
would drop) is written as a `{{ '...' }}` constant, so it renders as itself (a `{` right before
an expression cannot happen: `{{{` starts an expression at its first `{{`, as in AliECS).
Translations are cached per expression: the same few recur in every file.

What keeps expr-lang's meaning where Jinja's differs:
- `+` concatenates when either side is a string literal (or a concatenation): `~`. Otherwise it
  is `aliecs.add(a, b)`: nil-safe text concatenation as AliECS's `+` overload, numbers add,
  lists concatenate.
- Conditions (`?:`, `&&`, `||`, `!`) must be booleans as in expr-lang: an operand that is not
  syntactically boolean goes through `aliecs.test`, which accepts true/false (or their text) and
  fails on anything else, where Jinja would call every non-empty text true.
- `a contains b` is `b in a`; `startsWith`/`endsWith` are the string methods; `matches` is
  `aliecs.matches` (a bounded regular expression); `a ?? b` is `aliecs.coalesce(a, b)`.
- `m.key` is `m['key']` (a map's key, never one of Python's dict methods), except on the helper
  namespaces and role nodes (`strings.ToUpper`, `Up(2).Path`).
- `true`/`false`/`nil` are `true`/`false`/`none`; booleans render `true`/`false` (the sandbox's
  `finalize`), lists as JSON, as AliECS does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import lark
from lark import Token, Tree

from crds.aliecs.grammar import GRAMMAR
from crds.errors import O2Error

__all__ = ["AliecsExpressionError", "expression_to_o2", "to_o2"]

_OPEN, _CLOSE = "{{", "}}"
_JINJA_RESERVED = frozenset({"is", "if", "else", "none", "None", "True", "False"})
_NAMESPACES = frozenset(
    {"strings", "json", "util", "uid", "inventory", "config", "runtime", "dpl", "odc", "aliecs"}
)
"""Helper namespaces: `ns.Function` is an attribute (AliECS's plugins add theirs, e.g. `odc`)."""
_ROLE_NODES = frozenset({"Parent", "Up", "This"})
_BOOL_CALLS = frozenset({"strings.IsTruthy", "strings.IsFalsy", "aliecs.matches", "aliecs.test"})
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_GO_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`",
}  # fmt: skip
_GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)


class AliecsExpressionError(O2Error, ValueError):
    """An AliECS `{{ }}` value that does not parse: `column` (1-based, in the whole value) and
    `construct` (the text that did not parse) say where; `reason` says why."""

    def __init__(self, reason: str, *, column: int, construct: str, text: str) -> None:
        self.reason = reason
        self.column = column
        self.construct = construct
        self.text = text
        super().__init__(
            f"column {column}: {reason} (at {construct!r} in {_short(text)!r}); write it as "
            "an expr-lang expression AliECS accepts"
        )


def to_o2(text: str) -> str:
    """`text`, an AliECS value (literal text with `{{ expr }}` parts), in o2's dialect."""
    if _OPEN not in text and "{%" not in text:
        return text  # plain text: o2 renders nothing in it either
    parts: list[str] = []
    position = 0
    while True:
        start = text.find(_OPEN, position)
        if start < 0:
            parts.append(_literal(text[position:], last=True))
            return "".join(parts)
        end = text.find(_CLOSE, start + len(_OPEN))
        if end < 0:
            raise AliecsExpressionError(
                "'{{' without a closing '}}'", column=start + 1, construct=_OPEN, text=text
            )
        parts.append(_literal(text[position:start], last=False))
        source = text[start + len(_OPEN) : end]
        parts.append("{{ " + _in_value(source, offset=start + len(_OPEN), text=text) + " }}")
        position = end + len(_CLOSE)


def expression_to_o2(source: str) -> str:
    """One expr-lang expression (without `{{ }}`) as a Jinja2 expression."""
    return _translate(source)


def _in_value(source: str, *, offset: int, text: str) -> str:
    """`_translate`, with an error's column counted in the whole value `text`."""
    try:
        return _translate(source)
    except AliecsExpressionError as exc:
        raise AliecsExpressionError(
            exc.reason, column=offset + exc.column, construct=exc.construct, text=text
        ) from exc


def _literal(text: str, *, last: bool) -> str:
    """Literal text, with what Jinja would read as syntax written as constants."""
    if not text:
        return ""
    trailing = "\n" if last and text.endswith("\n") else ""
    body = text[: len(text) - len(trailing)]
    escaped = re.sub(r"\{(?=[%#])", "{{ '{' }}", body)  # never `{{`: it starts an expression
    return escaped + ("{{ '\\n' }}" if trailing else "")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def _parser() -> lark.Lark:
    return lark.Lark(GRAMMAR, parser="lalr", maybe_placeholders=True, propagate_positions=True)


@lru_cache(maxsize=8192)
def _translate(source: str) -> str:
    """The Jinja2 text of one expression; errors count columns in `source`."""
    if not source.strip():
        raise AliecsExpressionError("empty expression", column=1, construct="{{}}", text=source)
    try:
        tree = _parser().parse(source)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, source) from exc
    try:
        return _Writer(source).write(tree).text
    except RecursionError as exc:
        raise AliecsExpressionError(
            "nested too deeply", column=1, construct=_short(source, 40), text=source
        ) from exc


def _syntax_error(exc: lark.exceptions.UnexpectedInput, source: str) -> AliecsExpressionError:
    index = max(0, _index(source, exc.line, exc.column)) if exc.line > 0 else len(source)
    if isinstance(exc, lark.exceptions.UnexpectedToken) and exc.token.type == "$END":
        index = len(source.rstrip())
        construct = "end of expression"
        reason = "the expression ends too early"
    elif isinstance(exc, lark.exceptions.UnexpectedToken):
        construct = str(exc.token)
        expected = sorted(exc.accepts or exc.expected)
        reason = f"unexpected {construct!r}, expected one of {', '.join(expected[:8])}"
    elif isinstance(exc, lark.exceptions.UnexpectedCharacters):
        construct = source[index : index + 12]
        reason = f"unexpected character {source[index]!r}"
    else:
        construct = "end of expression"
        reason = "the expression ends too early"
    return AliecsExpressionError(reason, column=index + 1, construct=construct, text=source)


def _index(source: str, line: int, column: int) -> int:
    lines = source.split("\n")
    return sum(len(part) + 1 for part in lines[: line - 1]) + column - 1


@dataclass(frozen=True)
class _Out:
    """One translated subexpression: its Jinja text and what is known of it."""

    text: str
    kind: str = ""
    """"str" (a string for sure), "bool" (a boolean for sure) or "" (unknown)."""
    atom: bool = True
    """True when it needs no parentheses as an operand."""
    concat: bool = False
    """A `~` chain (another `~` operand joins it without parentheses)."""
    dotted: bool = False
    """A helper namespace or role node: its members are read as attributes (`strings.ToUpper`,
    `Up(2).Path`); any other value's as keys (`m['items']`, never the dict method)."""

    def operand(self) -> str:
        return self.text if self.atom else f"({self.text})"

    def condition(self) -> str:
        """As a Jinja condition with expr-lang's rule: booleans only."""
        return self.operand() if self.kind == "bool" else f"aliecs.test({self.text})"


def _column(node: Tree[Token]) -> int:
    token = node.children[0]
    return token.column if isinstance(token, Token) and token.column else 1


def _bool(text: str) -> _Out:
    return _Out(f"({text})", kind="bool")


class _Writer:
    """Writes the Jinja text of a parse tree (one method per rule of the grammar)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def write(self, node: Tree[Token] | Token) -> _Out:
        if isinstance(node, Token):  # a bare parenthesised atom is never a token; be safe
            return _Out(str(node))
        method: Callable[[Tree[Token]], _Out] = getattr(self, "rule_" + str(node.data))
        return method(node)

    def fail(self, token: Token, reason: str, construct: str) -> AliecsExpressionError:
        column = token.column or 1
        return AliecsExpressionError(reason, column=column, construct=construct, text=self.source)

    def rule_name(self, node: Tree[Token]) -> _Out:
        name = str(node.children[0])
        if name in _JINJA_RESERVED or name.startswith("$"):
            raise self.fail(
                Token("NAME", name, column=_column(node)),
                f"the name {name!r} is not supported in o2",
                name,
            )
        return _Out(name, dotted=name in _NAMESPACES)

    def rule_string(self, node: Tree[Token]) -> _Out:
        return _Out(_quote(_unquote(str(node.children[0]))), kind="str")

    def rule_number(self, node: Tree[Token]) -> _Out:
        literal = str(node.children[0]).replace("_", "")
        if literal[:2].lower() == "0x":
            return _Out(str(int(literal, 16)))
        if any(c in literal for c in ".eE") and not literal.isdigit():
            return _Out(repr(float(literal)))
        return _Out(str(int(literal)))

    def rule_true(self, node: Tree[Token]) -> _Out:
        return _Out("true", kind="bool")

    def rule_false(self, node: Tree[Token]) -> _Out:
        return _Out("false", kind="bool")

    def rule_nil(self, node: Tree[Token]) -> _Out:
        return _Out("none")

    def rule_array(self, node: Tree[Token]) -> _Out:
        items = [self.write(c).text for c in node.children if c is not None]
        return _Out("[" + ", ".join(items) + "]")

    def rule_map(self, node: Tree[Token]) -> _Out:
        pairs = []
        for pair in node.children:
            if pair is None:
                continue
            assert isinstance(pair, Tree)
            key, value = pair.children
            assert isinstance(key, Token)
            name = _unquote(str(key)) if key.type == "STRING" else str(key)
            pairs.append(f"{_quote(name)}: {self.write(value).text}")
        return _Out("{" + ", ".join(pairs) + "}")

    def rule_getattr(self, node: Tree[Token]) -> _Out:
        target, member = node.children
        assert isinstance(member, Tree)
        owner = self.write(target)
        name = str(member.children[0])
        if owner.dotted:
            return _Out(f"{owner.operand()}.{name}", dotted=owner.text in _NAMESPACES)
        return _Out(f"{owner.operand()}[{_quote(name)}]")

    def rule_call(self, node: Tree[Token]) -> _Out:
        function, args = node.children
        callee = self.write(function)
        values = [] if args is None else [self.write(a).text for a in args.children]  # type: ignore[union-attr]
        kind = "bool" if callee.text in _BOOL_CALLS else ""
        node_call = callee.text in _ROLE_NODES
        return _Out(f"{callee.operand()}({', '.join(values)})", kind=kind, dotted=node_call)

    def rule_getitem(self, node: Tree[Token]) -> _Out:
        target, index = node.children
        return _Out(f"{self.write(target).operand()}[{self.write(index).text}]")

    def rule_slice(self, node: Tree[Token]) -> _Out:
        target, low, high = node.children
        bounds = [self.write(b).text if b is not None else "" for b in (low, high)]
        return _Out(f"{self.write(target).operand()}[{bounds[0]}:{bounds[1]}]")

    def rule_coalesce(self, node: Tree[Token]) -> _Out:
        left, right = (self.write(c) for c in node.children)
        return _Out(f"aliecs.coalesce({left.text}, {right.text})")

    def rule_neg(self, node: Tree[Token]) -> _Out:
        sign, value = node.children
        assert isinstance(sign, Tree)
        return _Out(f"{sign.children[0]}{self.write(value).operand()}", atom=False)

    def rule_power(self, node: Tree[Token]) -> _Out:
        left, right = (self.write(c) for c in node.children)
        return _Out(f"{left.operand()} ** {right.operand()}", atom=False)

    def rule_arith(self, node: Tree[Token]) -> _Out:
        left_node, op_node, right_node = node.children
        assert isinstance(op_node, Tree)
        op = str(op_node.children[0])
        left, right = self.write(left_node), self.write(right_node)
        if op != "+":
            return _Out(f"{left.operand()} {op} {right.operand()}", atom=False)
        if "str" in (left.kind, right.kind):
            first = left.text if left.concat else left.operand()
            return _Out(f"{first} ~ {right.operand()}", kind="str", atom=False, concat=True)
        return _Out(f"aliecs.add({left.text}, {right.text})")

    def rule_compare(self, node: Tree[Token]) -> _Out:
        left_node, op_node, right_node = node.children
        assert isinstance(op_node, Tree)
        op = " ".join(str(t) for t in op_node.children)
        a, b = self.write(left_node).operand(), self.write(right_node).operand()
        negate = op.startswith("not ")
        op = op.removeprefix("not ")
        if op in ("in", "contains"):
            item, collection = (a, b) if op == "in" else (b, a)
            return _bool(f"{item} {'not in' if negate else 'in'} {collection}")
        if op in ("startsWith", "endsWith"):
            method = "startswith" if op == "startsWith" else "endswith"
            return _bool(f"{'not ' if negate else ''}{a}.{method}({b})")
        if op == "matches":
            return _bool(f"{'not ' if negate else ''}aliecs.matches({a}, {b})")
        return _bool(f"{a} {op} {b}")

    def rule_not_(self, node: Tree[Token]) -> _Out:
        return _bool(f"not {self.write(node.children[0]).condition()}")

    def rule_and_(self, node: Tree[Token]) -> _Out:
        left, right = (self.write(c) for c in node.children)
        return _bool(f"{left.condition()} and {right.condition()}")

    def rule_or_(self, node: Tree[Token]) -> _Out:
        left, right = (self.write(c) for c in node.children)
        return _bool(f"{left.condition()} or {right.condition()}")

    def rule_ternary(self, node: Tree[Token]) -> _Out:
        test, yes, no = (self.write(c) for c in node.children)
        kind = yes.kind if yes.kind == no.kind else ""
        return _Out(f"({yes.operand()} if {test.condition()} else {no.operand()})", kind=kind)


def _unquote(literal: str) -> str:
    """The value of an expr-lang string literal (Go escapes; backquotes are raw)."""
    body = literal[1:-1]
    if literal[0] == "`":
        return body
    return _GO_ESCAPE.sub(_unescape, body)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "xuU" and len(code) > 1:
        return chr(int(code[1:], 16))
    if len(code) == 3 and code.isdigit():
        return chr(int(code, 8))
    return _GO_ESCAPES.get(code, "\\" + code)


def _quote(value: str) -> str:
    """A Jinja2 string literal of `value` (Jinja reads escapes as Python's unicode-escape)."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"
