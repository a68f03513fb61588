"""Token file parsing and bearer checks."""

from __future__ import annotations

import pytest

from crds.errors import ValidationError
from gui.auth import NO_TOKENS, parse_tokens


def test_token_file_maps_tokens_to_names_ignoring_comments() -> None:
    tokens = parse_tokens("# operators\nalice:s3cret-token-a\n\nbob: s3cret-token-b\n")
    assert tokens.enabled
    assert tokens.who("Bearer s3cret-token-a") == "alice"
    assert tokens.who("Bearer s3cret-token-b") == "bob"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-token", "Basic abc"])
def test_missing_or_wrong_bearer_names_nobody(header: str | None) -> None:
    assert parse_tokens("alice:s3cret-token-a").who(header) is None


def test_no_tokens_means_actions_are_off() -> None:
    assert not NO_TOKENS.enabled
    assert parse_tokens("# nothing\n").enabled is False


@pytest.mark.parametrize("text", ["justatoken", "alice:short", ":s3cret-token-a"])
def test_malformed_line_is_rejected_naming_the_line(text: str) -> None:
    with pytest.raises(ValidationError, match="line 1"):
        parse_tokens(text, source="tokens.txt")


def test_same_token_for_two_names_is_rejected() -> None:
    with pytest.raises(ValidationError, match="line 2"):
        parse_tokens("a:s3cret-token-a\nb:s3cret-token-a")
