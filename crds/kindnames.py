"""The spellings of every kind, as plain data: shell completion of KIND and `kind_info("env")`
use them without importing (and building the models of) every kind module. Pure.

`crds.resource.KindInfo.names()` is the authority; a test checks this table agrees with it.
"""

from __future__ import annotations

KIND_MODULES: dict[str, tuple[str, ...]] = {
    "crds.kinds.taskclass": ("taskclass", "taskclasses", "tc"),
    "crds.kinds.workflow": ("workflow", "workflows", "wf"),
    "crds.kinds.environment": ("environment", "environments", "env", "envs"),
    "crds.kinds.task": ("task", "tasks"),
    "crds.kinds.node": ("node", "nodes", "no"),
    "crds.kinds.gitsource": ("gitsource", "gitsources", "gs"),
    "crds.kinds.componentconfig": ("componentconfig", "componentconfigs", "cc"),
    "crds.kinds.event": ("event", "events", "ev"),
}
"""Each kind module, in registration order (templates, live objects, infrastructure, events),
and the spellings of its kind."""


def kind_spellings() -> list[str]:
    """Every accepted spelling of every kind."""
    return sorted({name for names in KIND_MODULES.values() for name in names})


def plural_for(spelling: str) -> str | None:
    """The registry plural of the kind spelled `spelling` (`env` -> `environments`), or None;
    each entry of KIND_MODULES lists the kind's lower-case name, then its plural."""
    wanted = spelling.strip().lower()
    for names in KIND_MODULES.values():
        if wanted in names:
            return names[1]
    return None
