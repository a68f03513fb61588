"""The plain-socket HTTP client of the raw reads (cli.plainhttp) reads whole answers in their
three framings and refuses what is not a whole HTTP answer (the caller then falls back)."""

from __future__ import annotations

import pytest

from cli.plainhttp import PlainHTTPError, dechunk, parse_response


def test_content_length_chunked_and_to_the_end_bodies() -> None:
    fixed = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello"
    assert parse_response(fixed) == (200, b"hello")
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n"
    )
    assert parse_response(chunked) == (200, b"hello")
    assert parse_response(b"HTTP/1.0 404 Not Found\r\n\r\nnope") == (404, b"nope")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ],
)
def test_what_is_not_a_whole_answer_is_refused(raw: bytes) -> None:
    with pytest.raises(PlainHTTPError):
        parse_response(raw)


def test_a_chunked_body_without_its_last_chunk_is_refused() -> None:
    with pytest.raises(PlainHTTPError):
        dechunk(b"3\r\nabc\r\n")
