"""Every label, annotation and finalizer key o2 sets or reads, under one scheme. Pure: no I/O.

Keys are `o2.dev/<name>`, as Kubernetes keeps its own under `app.kubernetes.io/`: one prefix
tells o2's keys from the user's, and every module names them through the constants here, never
a string of its own.

Keys from before this scheme (`o2.environment/name`, `o2.idle`, `o2.tasks/kill`, ...) are in
LEGACY. They are migrated on read: metadata validated with a legacy key (an object read from
etcd, a manifest) carries the new key instead (crds.meta.ObjectMeta), so a finalizer already on a
stored object is still honoured; and a label selector naming a legacy key matches the new one
(`canonical`). Deprecated: kept for one minor version (CHANGELOG), then LEGACY goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

PREFIX = "o2.dev/"

# -- labels ------------------------------------------------------------------------------------

ENV_LABEL = "o2.dev/environment"
"""On a Task owned by an Environment: the environment's name."""
ROLE_LABEL = "o2.dev/role"
"""On a Task owned by an Environment: the path of its role in the workflow's role tree."""
IDLE_LABEL = "o2.dev/idle"
"""`true` on a reusable Task released by its environment and waiting to be adopted."""
PILOT_LABEL = "o2.dev/pilot-node"
"""On a pilot job's Task: the Node it runs on (asynchronous nodes)."""
SOURCE_LABEL = "o2.dev/gitsource"
"""On every object a GitSource manages: the GitSource's name (`o2 get env -l ...`)."""
HOOK_LABEL = "o2.dev/hook-of"
"""On a task hook's Task (run once at a transition moment): its Environment's name. Such a
Task is not one of the environment's tasks (no `o2.dev/environment` label)."""

# -- annotations -------------------------------------------------------------------------------

IDLE_SINCE = "o2.dev/idle-since"
"""On an idle Task: when it was released (ISO 8601), for the idle pool's expiry."""
CONFIGURED_WITH = "o2.dev/configured-with"
"""On a Task: digest of the properties a configured process was configured with, recorded
when they change before the process is reconfigured."""
PILOT_CLASS = "o2.dev/pilot-class"
"""On a Node, set by the user: the TaskClass of its pilot job (default: the controller's)."""
COMMIT_ANNOTATION = "o2.dev/commit"
"""On every object a GitSource manages: the commit its current content was applied from."""
SYNC_REQUESTED_AT = "o2.dev/sync-requested-at"
"""On a GitSource: set to a new value to ask for a sync now (`o2 sync`)."""
DIFF_REQUESTED_AT = "o2.dev/diff-requested-at"
"""On a GitSource: set to a new value to ask for a dry run (`o2 diff gitsource`)."""
ALIECS_NAME = "o2.dev/aliecs-name"
"""On a Workflow or TaskClass read from an AliECS repository: its AliECS name (the file name),
which differs from metadata.name when that is not a DNS label."""
ALIECS_SOURCE = "o2.dev/aliecs-source"
"""On a Workflow or TaskClass read from an AliECS repository: its file in the repository
(`workflows/readout-dataflow.yaml`)."""

# -- Node attributes and annotations the AliECS inventory reads (crds.aliecs.context) -----------

DETECTOR_ATTRIBUTE = "detector"
"""Agent attribute: the detector an FLP reads out (`inventory.DetectorForHost`)."""
MACHINE_ID_ATTRIBUTE = "machine_id"
"""Agent attribute: the machine's name as AliECS's inventory knows it, when it is not the
agent's hostname."""
CARDS_ANNOTATION = "o2.dev/cards"
"""On a Node: its readout cards as AliECS's inventory keeps them (`o2/hardware/flps/<host>/cards`
in Consul), a JSON object `{"<key>": {"type": "CRU", "serial": "1041", "endpoint": "0"}, ...}`
(`inventory.CRUCardsForHost`, `inventory.EndpointsForCRUCard`)."""

CHANGED_BY = "o2.dev/changed-by"
"""On an Environment (and on a GUI audit Event): the user whose request wrote its spec last,
set by the GUI and `o2 start|stop|...` with the spec write (crds.changedby)."""
CHANGED_BY_GENERATION = "o2.dev/changed-by-generation"
"""With CHANGED_BY: the metadata.generation that write produced. A later spec write by a writer
that does not name its user leaves a higher generation, so a stale name is never believed."""

HOOK_FIRING = "o2.dev/hook-firing"
"""On a task hook's Task while it is fired: which firing (environment, transition, hook), so a
restarted controller resumes it instead of firing it again."""

# -- finalizers --------------------------------------------------------------------------------

KILL_TASK_FINALIZER = "o2.dev/kill-task"
"""On a Task: its deletion waits until the task controller has killed its process."""
TEARDOWN_FINALIZER = "o2.dev/teardown"
"""On an Environment whose workflow has teardown hooks: its deletion waits until the
environment controller has run DESTROY (before_DESTROY, leave_<STATE>, release the tasks,
DESTROY hooks), each hook bounded by its timeout."""

APPLIED_PREFIX = "applied.o2.dev/"
"""`applied.o2.dev/<manager>`: the fields the last apply by `manager` (`o2-apply`,
`gitsource.<name>`) set, with a hash of each value (crds.ownership)."""

LABELS = frozenset({ENV_LABEL, ROLE_LABEL, IDLE_LABEL, PILOT_LABEL, SOURCE_LABEL, HOOK_LABEL})
ANNOTATIONS = frozenset(
    {
        IDLE_SINCE,
        CONFIGURED_WITH,
        PILOT_CLASS,
        COMMIT_ANNOTATION,
        SYNC_REQUESTED_AT,
        DIFF_REQUESTED_AT,
        ALIECS_NAME,
        ALIECS_SOURCE,
        CARDS_ANNOTATION,
        HOOK_FIRING,
        CHANGED_BY,
        CHANGED_BY_GENERATION,
    }
)
FINALIZERS = frozenset({KILL_TASK_FINALIZER, TEARDOWN_FINALIZER})

LEGACY: Mapping[str, str] = MappingProxyType(
    {
        "o2.environment/name": ENV_LABEL,
        "o2.role": ROLE_LABEL,
        "o2.idle": IDLE_LABEL,
        "o2.pilot/node": PILOT_LABEL,
        "o2.idle-since": IDLE_SINCE,
        "o2.configured-with": CONFIGURED_WITH,
        "o2.pilot/class": PILOT_CLASS,
        "o2.tasks/kill": KILL_TASK_FINALIZER,
    }
)
"""Deprecated key -> its `o2.dev/` name."""

LEGACY_KEYS = frozenset(LEGACY)
"""The deprecated keys, for a fast `isdisjoint` test on the hot path of reading objects."""


def canonical(key: str) -> str:
    """The key o2 stores for `key`: its new name when `key` is a legacy one, else `key`."""
    return LEGACY.get(key, key)


def legacy_keys(keys: Iterable[str]) -> list[str]:
    """The legacy keys among `keys`, in order (for a deprecation warning)."""
    return [key for key in keys if key in LEGACY_KEYS]


def renamed(values: Mapping[str, str]) -> dict[str, str] | None:
    """`values` with legacy keys renamed, or None when it has none (the usual case: no copy).
    A new key already present wins over its legacy twin."""
    if LEGACY_KEYS.isdisjoint(values):
        return None
    out: dict[str, str] = {}
    for key, value in values.items():
        new = LEGACY.get(key)
        if new is None:
            out[key] = value
        elif new not in values:
            out[new] = value
    return out


def renamed_finalizers(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """Finalizers with legacy names renamed (order kept, no duplicates), or None when none is."""
    if LEGACY_KEYS.isdisjoint(values):
        return None
    return tuple(dict.fromkeys(canonical(value) for value in values))


PLUGIN_ENTRY_POINTS = "o2.plugins"
"""Not a label: the entry-point group integration plugins are declared in (crds.plugins), kept
here with every other `o2.` key."""


# -- the rules for keys and values (Kubernetes' own, so manifests move between the two) ---------

MAX_NAME = 63
MAX_KEY_PREFIX = 253
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_RULE = "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def key_problem(key: str) -> str | None:
    """Why `key` cannot be a label or annotation key (None: it can). A key is `[prefix/]name`:
    the prefix a lower-case DNS subdomain (at most 253 characters, e.g. `o2.dev`), the name at
    most 63 characters of letters, digits, '-', '_' and '.'."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return f"key {key!r} has an empty prefix before '/'"
    if prefix and (len(prefix) > MAX_KEY_PREFIX or not _SUBDOMAIN.match(prefix)):
        return (
            f"key prefix {prefix!r} is not a DNS subdomain (lower-case letters, digits, '-' "
            f"and '.', at most {MAX_KEY_PREFIX} characters)"
        )
    if not name:
        return f"key {key!r} has an empty name"
    if len(name) > MAX_NAME or not _NAME.match(name):
        return f"key name {name!r} must be at most {MAX_NAME} characters of {_NAME_RULE}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` cannot be a label value (None: it can): empty, or at most 63 characters of
    the same alphabet as a key's name. Annotation values are free text."""
    if value and (len(value) > MAX_NAME or not _NAME.match(value)):
        return (
            f"label value {value!r} must be empty or at most {MAX_NAME} characters of {_NAME_RULE}"
        )
    return None
