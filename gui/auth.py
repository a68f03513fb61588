"""Bearer tokens for GUI actions: the `name:token` file format and the check. Pure, no I/O.

Without tokens the GUI is read-only. A token file holds one `name:token` per line (blank lines
and `#` comments ignored); the name is who asked, recorded in the environment's Events.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from crds.errors import FieldError, ValidationError

MIN_TOKEN_LENGTH = 8


@dataclass(frozen=True)
class Tokens:
    """Token -> name; empty means actions are off."""

    by_token: dict[str, str]

    @property
    def enabled(self) -> bool:
        return bool(self.by_token)

    def who(self, authorization: str | None) -> str | None:
        """The token's name for an `Authorization: Bearer <token>` header; None if not valid."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        offered = authorization.removeprefix("Bearer ").strip()
        found = None
        for token, name in self.by_token.items():  # compare all: no early exit on a match
            if hmac.compare_digest(token.encode(), offered.encode()):
                found = name
        return found


NO_TOKENS = Tokens({})


def parse_tokens(text: str, *, source: str = "token file") -> Tokens:
    """`name:token` lines -> Tokens; ValidationError naming the line for anything else."""
    by_token: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, token = (part.strip() for part in line.partition(":"))
        if not sep or not name or len(token) < MIN_TOKEN_LENGTH:
            raise _bad(source, number, f"expected `name:token`, token >= {MIN_TOKEN_LENGTH} chars")
        if token in by_token:
            raise _bad(source, number, "this token is already given to another name")
        by_token[token] = name
    return Tokens(by_token)


def _bad(source: str, line: int, message: str) -> ValidationError:
    return ValidationError([FieldError(path=f"line {line}", message=message, source=source)])


READ_COOKIE = "o2-read"
"""Cookie the page sets from the read token it was given: EventSource cannot send headers."""


def offered_token(authorization: str | None, cookie: str | None) -> str | None:
    """The `Authorization: Bearer` header as-is, else the read cookie as a bearer header."""
    if authorization:
        return authorization
    return f"Bearer {cookie}" if cookie else None


def check_private(mode: int, *, source: str) -> None:
    """A token file anyone else on the machine can read hands them the GUI: refuse it."""
    if mode & 0o077:
        message = (
            f"mode {mode & 0o777:04o} lets group/others read or change the tokens; "
            f"run `chmod 600 {source}`"
        )
        raise ValidationError([FieldError(path="mode", message=message, source=source)])
