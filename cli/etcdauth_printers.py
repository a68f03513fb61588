"""Views of `o2 etcd-auth`: the plan as tables or one JSON document, changes as lines. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cli.printers import render_table
from store.authplan import AuthPlan, Change, describe


def plan_tables(plan: AuthPlan, sources: Mapping[str, str]) -> RenderableType:
    """Roles with each key range, then users with where their password comes from."""
    roles = [
        [role.name, p.perm, p.key, p.range_end, p.why]
        for role in plan.roles
        for p in role.permissions
    ]
    users = [[u.name, ",".join(u.roles), sources.get(u.name, "-")] for u in plan.users]
    return Group(
        render_table(["ROLE", "PERMISSION", "FROM KEY", "TO KEY (EXCLUDED)", "WHY"], roles),
        Text(""),
        render_table(["USER", "ROLES", "PASSWORD FROM"], users),
    )


def plan_document(plan: AuthPlan, sources: Mapping[str, str]) -> dict[str, Any]:
    """The plan as JSON (keys camelCase, as everywhere in o2)."""
    return {
        "prefix": plan.prefix,
        "roles": [
            {
                "name": role.name,
                "purpose": role.purpose,
                "permissions": [
                    {"perm": p.perm, "key": p.key, "rangeEnd": p.range_end, "why": p.why}
                    for p in role.permissions
                ],
            }
            for role in plan.roles
        ],
        "users": [
            {"name": u.name, "roles": list(u.roles), "passwordFrom": sources.get(u.name)}
            for u in plan.users
        ],
    }


def changes_text(changes: Sequence[Change], *, endpoint: str, enabled: bool) -> str:
    """What apply did, one change a line; or that nothing needed changing."""
    if not changes:
        state = "on" if enabled else "off (turn it on with --enable)"
        return f"etcd at {endpoint} already matches the plan; nothing changed (auth {state})\n"
    lines = [f"etcd at {endpoint}:", *(f"  {describe(c)}" for c in changes)]
    return "\n".join(lines) + "\n"
