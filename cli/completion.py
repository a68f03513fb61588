"""Shell completion of object NAMEs: the keys under the kind's registry prefix, read from etcd
within `NAME_TIMEOUT` (a shell waiting on a TAB must not hang on an unreachable etcd).

Completion runs on every TAB, so it cannot pay for the gRPC client and the models (~0.4 s):
it asks etcd's JSON gateway (cli.etcdgateway, keys only) with the standard library, with the
same endpoints, prefix, TLS files and user as the command would use. Any failure gives no
candidates, never an error on the terminal. Edge I/O.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from cli.etcdgateway import read_names
from cli.options import ENV_VARS, GlobalOptions, options_from_env
from crds.kindnames import plural_for

NAME_TIMEOUT = 1.0
"""Seconds a NAME completion may wait for etcd, all endpoints together."""

__all__ = ["NAME_TIMEOUT", "complete_name", "completion_options", "read_names"]


def complete_name(ctx: typer.Context, incomplete: str) -> list[str]:
    """Names of the KIND typed before, starting with `incomplete`, minus those already typed."""
    plural = plural_for(str(ctx.params.get("kind") or ""))
    if plural is None:
        return []
    typed = ctx.params.get("names") or []
    try:
        names = read_names(completion_options(ctx), plural, incomplete, timeout=NAME_TIMEOUT)
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [n for n in names if n not in typed]


def completion_options(ctx: typer.Context) -> GlobalOptions:
    """The root flags typed so far (`o2 --etcd URL get env <TAB>`), else the O2_* variables."""
    given: dict[str, Any] = ctx.find_root().params
    env = options_from_env()
    password = env.password
    password_file = given.get("password_file")
    if password_file:
        password = Path(password_file).read_text(encoding="utf-8").strip()
    return GlobalOptions(
        etcd=given.get("etcd") or env.etcd,
        prefix=given.get("prefix") or env.prefix,
        cacert=given.get("cacert") or env.cacert,
        cert=given.get("cert") or env.cert,
        key=given.get("key") or env.key,
        user=given.get("user") or env.user,
        password=password or os.environ.get(ENV_VARS["password"]) or None,
    )
