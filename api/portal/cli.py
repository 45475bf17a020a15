"""``kehou users set-password EMAIL``: create or replace a user's portal password."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.command(
    "set-password",
    help="Create or replace a portal login (parents, finance, auditors, admins). "
    "The password is asked for twice "
    "(hidden), or read from the first line of stdin with --password-stdin. At least 10 "
    "characters, 5 different ones, not a common password, not containing the email's name. "
    "Also lifts a lockout and ends the user's portal sessions.",
)
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (for scripts; never on the command line).",
)
@with_appcontext
def set_password_command(email: str, password_stdin: bool) -> None:
    from ..audit import record
    from ..cli import _cli_actor, _find_user, unit_of_work
    from .logins import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as db:
        user = _find_user(db, email)
        _, created = set_password(db, user, password)
        record(db, "portal_login.set", f"user:{user.id}", {"created": created}, actor=_cli_actor())
    click.echo(f"portal login {'created' if created else 'replaced'} for {user.email}")
