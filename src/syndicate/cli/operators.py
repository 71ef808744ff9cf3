"""``syndicate operators``: who may sign in to the console, and with which role."""

from __future__ import annotations

import getpass

import click
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, pass_app, plural, when
from syndicate.cli.choices import ROLES
from syndicate.cli.text import esc
from syndicate.errors import StoreError
from syndicate.models import utc_now

# The store (and its password hasher, slow to set up) is imported by the commands that
# use it, so that `--help` loads no stage (tests/test_startup.py).

PASSWORD_ENV = "SYNDICATE_OPERATOR_PASSWORD"


def cli_actor() -> str:
    """Who the audit log names for a command: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container's numeric user)
        return "cli"


def _password_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar=PASSWORD_ENV,
        help=f"The password (asked for when not given; env {PASSWORD_ENV}).",
    )(func)


def _good_password(password: str) -> None:
    from syndicate.store.operators import check_password

    try:
        check_password(password)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--password") from err


@cli.group()
def operators() -> None:
    """Add, list and remove the console's operators."""


@operators.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="editor",
    show_default=True,
    help="editor: acts on editions; admin: also on subscribers, sources and operators.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help="Tell them of this channel's drafts (repeatable) [default: every channel].",
)
@_password_option
@pass_app
def operators_add(
    app: AppContext, email: str, role: str, channels: tuple[str, ...], password: str
) -> None:
    """Add an operator who signs in with EMAIL (turns the console on)."""
    from syndicate.store.operators import Operators

    _good_password(password)
    found = Operators(app.store())
    now = utc_now()
    try:
        added = found.add(email, role, password, now, channels)  # type: ignore[arg-type]
    except StoreError as err:
        raise click.BadParameter(str(err), param_hint="EMAIL") from err
    found.audit(
        cli_actor(),
        "operator.add",
        added.email,
        now,
        after={"role": added.role, "channels": list(added.channels)},
    )
    console.print(f"added {esc(added.email)} ({added.role})", highlight=False)


@operators.command("list")
@pass_app
def operators_list(app: AppContext) -> None:
    """List the operators, their roles and any lock-out."""
    from syndicate.store.operators import Operators

    found = Operators(app.store()).all()
    if not found:
        console.print("no operators: the console is off", highlight=False)
        return
    table = Table(title=plural(len(found), "operator"), title_justify="left")
    table.add_column("email", overflow="fold", min_width=16)
    table.add_column("role", no_wrap=True, min_width=6)
    for column in ("channels", "added", "password set", "locked until"):
        table.add_column(column, overflow="fold")
    for o in found:
        table.add_row(
            esc(o.email),
            o.role,
            esc(", ".join(o.channels) or "all"),
            when(o.created_at),
            when(o.password_changed_at),
            when(o.locked_until),
        )
    console.print(table)


@operators.command("remove")
@click.argument("email")
@pass_app
def operators_remove(app: AppContext, email: str) -> None:
    """Remove the operator EMAIL and end their sessions."""
    from syndicate.store.operators import Operators

    found = Operators(app.store())
    before = found.get(email)
    if before is None or not found.remove(email):
        raise click.BadParameter(f"no operator {email}", param_hint="EMAIL")
    found.audit(
        cli_actor(), "operator.remove", before.email, utc_now(), before={"role": before.role}
    )
    console.print(f"removed {esc(before.email)}", highlight=False)


@operators.command("reset-password")
@click.argument("email")
@_password_option
@pass_app
def operators_reset_password(app: AppContext, email: str, password: str) -> None:
    """Set a new password for EMAIL, lift any lock-out and end their sessions."""
    from syndicate.store.operators import Operators

    _good_password(password)
    found = Operators(app.store())
    now = utc_now()
    if not found.set_password(email, password, now):
        raise click.BadParameter(f"no operator {email}", param_hint="EMAIL")
    found.audit(cli_actor(), "operator.reset-password", email.strip().lower(), now)
    console.print(f"password of {esc(email)} changed; their sessions ended", highlight=False)
