"""`o2 etcd-auth plan|apply`: least-privilege etcd roles and users for this o2 installation.

The roles and key ranges come from store.authplan (pure); apply reads etcd's auth settings,
computes the difference and makes only those changes (store.etcd.auth). Passwords come from
files or the environment, never from the command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cli.etcdauth_printers import changes_text, plan_document, plan_tables
from cli.options import ENV_VARS, GlobalOptions
from cli.printers import json_text
from cli.runtime import print_out, run, store_config, warn, write_out
from crds.errors import FieldError, ValidationError
from store.authplan import ROOT, AddUser, AuthPlan, MissingPasswordError, SetPassword, plan_for

HELP = """Least-privilege etcd users for o2: one role per component, each limited to the key
ranges it needs under the o2 prefix (--prefix / O2_PREFIX).

- **o2-controller**: read and write the whole prefix (resources, status, Events, the
  run-number counter, leader election).
- **o2-gui**: read the whole prefix; with --gui-actions also write Environments and Events
  (etcd grants per key range: the role may write an Environment's status too).
- **o2-operator**: read everything, write every kind under registry/
  (`o2 apply|delete|cordon|drain|deploy ...`); never runtime/ (run numbers) or leases/ (leader
  election).
- **o2-viewer**: read only.
- **root**: etcd requires it (role root) before authentication can be turned on.

Executors get no user: they never talk to etcd.

Passwords of users to create come from `--password-dir DIR` (one file per user, named after
it, mode 600) or `O2_ETCD_PASSWORD_<USER>` (`O2_ETCD_PASSWORD_O2_CONTROLLER`,
`O2_ETCD_PASSWORD_ROOT`, ...). Existing users keep their password unless --reset-passwords.

**Examples**

```
o2 etcd-auth plan --gui-actions
o2 --etcd https://etcd-1:2379 --cacert ca.pem etcd-auth apply \\
    --password-dir /etc/o2/etcd-users --enable
o2 --user root --password-file /etc/o2/etcd-users/root etcd-auth apply --gui-actions
```

Then give each component its user: O2_ETCD_USER=o2-controller and O2_ETCD_PASSWORD (or
--password-file) in the controller's environment, and so on.
"""

PLAN_HELP = """Print the roles, their key ranges and the users `apply` would create (no etcd
access). `-o json` prints one JSON document."""

APPLY_HELP = """Create or update the roles and users in etcd so they match the plan; running
it again changes nothing and says so. Permissions and roles an o2 role or user has beyond the
plan are revoked. While authentication is off it connects without credentials; once it is on,
it needs etcd's root user (--user root --password-file FILE, or O2_ETCD_USER=root and
O2_ETCD_PASSWORD). --enable then turns authentication on (the root password must be given,
so you can still log in)."""

GuiActionsOpt = Annotated[
    bool,
    typer.Option(
        "--gui-actions/--no-gui-actions",
        help="The GUI may act on environments (then it writes Environments and Events).",
    ),
]
PasswordDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-dir",
        help="Directory with one password file per user (named after it, mode 600).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Passwords:
    """Each user's password, and where it came from (shown by `plan`)."""

    values: Mapping[str, str]
    sources: Mapping[str, str]


def env_var(user: str) -> str:
    """`o2-controller` -> `O2_ETCD_PASSWORD_O2_CONTROLLER`."""
    return f"{ENV_VARS['password']}_{user.upper().replace('-', '_')}"


def find_passwords(
    plan: AuthPlan, opts: GlobalOptions, *, directory: Path | None, read: bool
) -> Passwords:
    """A file in `directory` first, then the user's variable; root may also be the global
    --user root with its --password-file / O2_ETCD_PASSWORD. `read`: read the files (plan only
    says where they are)."""
    from store.config import read_private_file

    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for user in plan.users:
        path = directory / user.name if directory is not None else None
        if path is not None and path.exists():
            sources[user.name] = str(path)
            if read:
                values[user.name] = read_private_file(path, what=f"password of {user.name}")
        elif os.environ.get(env_var(user.name)):
            sources[user.name] = f"${env_var(user.name)}"
            values[user.name] = os.environ[env_var(user.name)]
        elif user.name == ROOT and opts.user == ROOT and opts.password:
            sources[user.name] = "--password-file / $O2_ETCD_PASSWORD (as --user root)"
            values[user.name] = opts.password
    return Passwords(values, sources)


def missing_passwords(exc: MissingPasswordError, directory: Path | None) -> ValidationError:
    where = str(directory) if directory is not None else "--password-dir DIR"
    return ValidationError(
        [
            FieldError(
                path="password",
                message=f"no password for etcd user {user}: write it to {where}/{user} "
                f"(mode 600) or set ${env_var(user)}",
                source=user,
            )
            for user in exc.users
        ]
    )


def plan_command(
    ctx: typer.Context,
    *,
    gui_actions: GuiActionsOpt = False,
    password_dir: PasswordDirOpt = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
) -> None:
    if output not in ("table", "json"):
        raise typer.BadParameter(f"{output!r}: use table or json", param_hint="'-o'")

    async def body(opts: GlobalOptions) -> None:
        plan = plan_for(opts.prefix, gui_actions=gui_actions)
        sources = find_passwords(plan, opts, directory=password_dir, read=False).sources
        if output == "json":
            write_out(json_text(plan_document(plan, sources)))
        else:
            print_out(plan_tables(plan, sources))

    run(ctx, body)


def apply_command(
    ctx: typer.Context,
    *,
    gui_actions: GuiActionsOpt = False,
    password_dir: PasswordDirOpt = None,
    enable: Annotated[
        bool, typer.Option("--enable", help="Turn etcd authentication on afterwards.")
    ] = False,
    reset_passwords: Annotated[
        bool,
        typer.Option("--reset-passwords", help="Set every user's password to the given one."),
    ] = False,
) -> None:
    run(
        ctx,
        lambda opts: _apply(
            opts,
            gui_actions=gui_actions,
            directory=password_dir,
            enable=enable,
            reset=reset_passwords,
        ),
    )


async def _apply(
    opts: GlobalOptions, *, gui_actions: bool, directory: Path | None, enable: bool, reset: bool
) -> None:
    from dataclasses import replace

    from store.authplan import diff
    from store.config import plaintext_credentials_warning
    from store.etcd.auth import EtcdAuthAdmin

    plan = plan_for(opts.prefix, gui_actions=gui_actions)
    passwords = find_passwords(plan, opts, directory=directory, read=True).values
    config = store_config(opts)
    async with EtcdAuthAdmin(config.connection()) as admin:
        state = await admin.state()
        if enable and not state.enabled and ROOT not in passwords:
            raise missing_passwords(MissingPasswordError([ROOT]), directory)
        try:
            changes = diff(plan, state, passwords=passwords, enable=enable, reset_passwords=reset)
        except MissingPasswordError as exc:
            raise missing_passwords(exc, directory) from exc
        checked = [config] if state.enabled else []  # credentials are sent only then
        checked += [
            replace(config, username=c.user, password=c.password)
            for c in changes
            if isinstance(c, AddUser | SetPassword)
        ]
        for message in filter(None, map(plaintext_credentials_warning, checked)):
            warn(Text(message))
        await admin.apply(changes)
    enabled = state.enabled or enable
    write_out(changes_text(changes, endpoint=admin.endpoint, enabled=enabled))


def register(app: typer.Typer) -> None:
    """Add the `o2 etcd-auth` group to the root app."""
    group = typer.Typer(
        name="etcd-auth",
        help=HELP,
        rich_markup_mode="markdown",
        no_args_is_help=True,
    )
    group.command("plan", help=PLAN_HELP, short_help="Print the roles, ranges and users.")(
        plan_command
    )
    group.command("apply", help=APPLY_HELP, short_help="Create or update them in etcd.")(
        apply_command
    )
    app.add_typer(group, name="etcd-auth", short_help="Least-privilege etcd users for o2.")
