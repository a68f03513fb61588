"""Keep the controller's secrets out of what it publishes: hook environments, Events, hook output.

Pure: callers hand in the environment mapping (normally `os.environ`). Two layers, so that one
mistake is not a leak: a hook never receives the controller's environment, only the allow-list
below plus what its workflow sets; and every Event message and hook output is redacted of the
controller's known secret values (the value of every variable whose name says PASSWORD, SECRET,
TOKEN, KEY, ... — `O2_ETCD_PASSWORD` among them) and capped in length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

HOOK_ALLOWED = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "TMPDIR", "SHELL", "TERM"}
)
"""Variables a hook inherits from the controller (and `LC_*`): what programs need to find
binaries, a home, a locale, a time zone and a temp directory. Nothing else: the controller's
`O2_*` settings, its etcd credentials and whatever else its service manager set stay with it."""

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)
"""A variable whose name matches holds a secret: its value is redacted wherever it appears."""

MIN_SECRET = 4
"""Values shorter than this are not redacted: replacing every "1" or "yes" in a message would
garble it, and such a value is no secret worth the name (the hook never sees it anyway)."""

MASK = "***"

MESSAGE_LIMIT = 1024
"""Characters kept of an Event message; hook output is cut before that."""

TRUNCATED = "… (truncated)"


def hook_environment(
    controller_env: Mapping[str, str], workflow_env: Iterable[tuple[str, str]] = ()
) -> dict[str, str]:
    """The whole environment of a hook process: the allow-listed part of the controller's, with
    the variables its workflow sets (`call.env`) on top."""
    env = {k: v for k, v in controller_env.items() if k in HOOK_ALLOWED or k.startswith("LC_")}
    env.update(workflow_env)
    return env


class Redactor:
    """Replaces known secret values by `***`; the longest first, so that a secret containing
    another is masked whole."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        self.count = len(values)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, extra: Iterable[str | None] = ()
    ) -> Redactor:
        """The secrets of `environ` (by variable name, SECRET_NAME), and `extra` known ones."""
        found = [v for k, v in environ.items() if SECRET_NAME.search(k)]
        return cls([*found, *extra])

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


def cap(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, saying so when it was."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED))] + TRUNCATED
