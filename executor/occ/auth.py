"""Who may drive a task's OCC channel: a per-launch secret shared by the executor and its task.

Pure: no grpc here (executor.occ.grpc_adapter sends the token as call metadata,
executor.occ.server checks it).

The OCC port listens on 127.0.0.1, so any local user could otherwise send CONFIGURE with its
own properties, or START, to any task. The executor therefore draws a fresh random token for
every launch, hands it to the task in its environment (`TOKEN_ENV`, never in argv, logs or
Mesos task data) and sends it with every call (`TOKEN_METADATA_KEY`); the o2 SDK refuses calls
without it (UNAUTHENTICATED). A real ALICE OCClib process ignores the metadata: for those the
only protection is the loopback bind (AliECS has no OCC authentication either).
"""

from __future__ import annotations

import hmac

TOKEN_ENV = "O2_OCC_TOKEN"
"""The task's environment variable holding its OCC token."""
TOKEN_METADATA_KEY = "o2-occ-token"
"""The gRPC metadata key every OCC call carries the token under (lower case: gRPC rule)."""


def new_token() -> str:
    """A fresh secret for one task launch (256 bits, URL-safe so it is valid metadata). Only
    the executor draws tokens: `secrets` (and `random`, ~0.2 MB) stays out of every task."""
    import secrets

    return secrets.token_urlsafe(32)


def token_matches(expected: str, presented: str | None) -> bool:
    """Whether a call presented the right token; constant time, so timing leaks nothing."""
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
