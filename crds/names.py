"""DNS-1123 names for generated objects (tasks, events). Pure, deterministic."""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63
_HASH_LEN = 8
_INVALID = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(text: str) -> bool:
    """Whether `text` is a valid DNS-1123 label (what metadata.name must be)."""
    return len(text) <= MAX_LABEL and bool(_LABEL.match(text))


def to_dns_label(text: str, *, max_length: int = MAX_LABEL) -> str:
    """A valid label from any text: lower-cased, other characters to '-', dashes collapsed.

    `to_dns_label("flp-TPC-readout") == "flp-tpc-readout"`. Longer results are cut and end in
    '-' plus 8 hex digits of a hash of the whole normalized text, so they stay unique and stable.
    """
    label = _DASHES.sub("-", _INVALID.sub("-", text.lower())).strip("-") or "x"
    if len(label) <= max_length:
        return label
    digest = hashlib.sha256(label.encode()).hexdigest()[:_HASH_LEN]
    head = label[: max_length - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{digest}"


def join_label(*parts: str, max_length: int = MAX_LABEL) -> str:
    """`to_dns_label` of the non-empty parts joined by '-': `join_label("physics-1", "TPC")`."""
    return to_dns_label("-".join(p for p in parts if p), max_length=max_length)
