"""The ``kehou`` command: a Flask CLI group over ``api.create_app``.

Each command runs in one transaction and commits once at the end.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.books.errors import DomainError

from .database import get_db


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One session per command: commit if the block finishes, roll back if it raises."""
    db = get_db().ensure(current_app)()
    try:
        yield db
        db.commit()
    except DomainError as exc:
        db.rollback()
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    finally:
        db.close()


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database in some containers
        return "cli"


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(users_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(billing_group)
    from .document_cli import documents_group

    app.cli.add_command(documents_group)
    from .queue_cli import worker_command

    app.cli.add_command(worker_command)
    from .portal.cli import set_password_command

    users_group.add_command(set_password_command)
    from .backup import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply migrations up to head (creates the SQLite file).")
@with_appcontext
def db_upgrade() -> None:
    from . import db as migrations

    url = current_app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///") :])), exist_ok=True)
    migrations.upgrade(get_db().ensure(current_app) and get_db().engine)
    click.echo(f"database at head: {get_db().engine.url.render_as_string(hide_password=True)}")


@click.group("users", help="Users and API tokens.")
def users_group() -> None:
    pass


@users_group.command("create", help="Create a user; prints the new token as the last line.")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "finance", "auditor", "parent", "teacher"])
)
@click.option("--school", default=None, help="Link a finance or teacher user to a school (code).")
@click.option("--district", default=None, help="Link a finance user to a whole district (code).")
@click.option("--household", default=None, type=int, help="Link a parent to a household (id).")
@with_appcontext
def users_create(
    email: str, role: str, school: str | None, district: str | None, household: int | None
) -> None:
    from .audit import record
    from .auth import create_user
    from .links import link

    with unit_of_work() as db:
        user, token = create_user(db, email, role)
        for kind, value in (("school", school), ("district", district), ("household", household)):
            if value is not None:
                link(db, user, **{kind: value})
        record(db, "user.create", f"user:{user.id}", {"role": role}, actor=_cli_actor())
    click.echo(f"created {user.email} ({user.role}), id {user.id}; token:")
    click.echo(token)


@users_group.command("token", help="Issue another token for a user; prints it as the last line.")
@click.argument("email")
@with_appcontext
def users_token(email: str) -> None:
    from .audit import record
    from .auth import issue_token

    with unit_of_work() as db:
        user = _find_user(db, email)
        token = issue_token(db, user)
        record(db, "token.issue", f"user:{user.id}", actor=_cli_actor())
    click.echo(token)


@users_group.command("revoke", help="Revoke every token of a user.")
@click.argument("email")
@with_appcontext
def users_revoke(email: str) -> None:
    from .audit import record
    from .auth import revoke_tokens

    with unit_of_work() as db:
        user = _find_user(db, email)
        count = revoke_tokens(db, user)
        record(db, "token.revoke", f"user:{user.id}", {"revoked": count}, actor=_cli_actor())
    click.echo(f"revoked {count} token(s) of {user.email}")


@users_group.command("list", help="List users.")
@with_appcontext
def users_list() -> None:
    from .models import User

    with unit_of_work() as db:
        for user in db.scalars(select(User).order_by(User.id)):
            state = "active" if user.is_active else "inactive"
            click.echo(f"{user.id}\t{user.email}\t{user.role}\t{state}")


def _find_user(db: Session, email: str):  # type: ignore[no-untyped-def]
    from .models import User

    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user {email}")
    return user


@click.group("demo", help="Demo data.")
def demo_group() -> None:
    pass


@demo_group.command(
    "load", help="Load the demo users, the small DEMO book and the demo school's autumn term."
)
@click.option("--if-empty", is_flag=True, help="Do nothing if the database holds any book.")
@click.option(
    "--tokens-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the demo users' tokens and the demo parent's portal password to this file.",
)
@with_appcontext
def demo_load(if_empty: bool, tokens_file: str | None) -> None:
    from ledger.books import Book

    from .demo import load_demo

    with unit_of_work() as db:
        if if_empty and db.scalar(select(func.count()).select_from(Book)):
            click.echo("demo: the database already holds books; nothing loaded")
            return
        loaded = load_demo(db, actor=_cli_actor())
    lines = [f"{email}\t{role}\t{token}" for email, role, token in loaded.tokens]
    if loaded.portal_login:
        # Not a token: the demo parent's password for the /portal login page.
        lines.append("{}\tportal-password\t{}".format(*loaded.portal_login))
    click.echo(
        f"demo book DEMO loaded, and school {loaded.school}'s autumn term (term "
        f"{loaded.term_id}); users and tokens, and the demo parent's /portal password "
        "(shown once):"
    )
    for line in lines:
        click.echo("  " + line)
    if tokens_file:
        os.makedirs(os.path.dirname(os.path.abspath(tokens_file)), exist_ok=True)
        fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        click.echo(f"tokens also written to {tokens_file}")


@demo_group.command(
    "seed",
    help="Create a seeded district (SD<seed>) of N schools and M students (the district's "
    "total) and run a whole autumn term at each school; prints the audit's result.",
)
@click.option("--schools", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--students", type=click.IntRange(1), default=2000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same figures.")
@with_appcontext
def demo_seed(schools: int, students: int, seed: int) -> None:
    import sys

    from .demo_seed import seed_district

    if students < schools:
        raise click.BadParameter("at least one student per school", param_hint="--students")

    def bar(label, items, length):  # type: ignore[no-untyped-def]
        return click.progressbar(items, length=length, label=label, file=sys.stderr)

    def step(name: str, seconds: float) -> None:
        click.echo(f"  {name}: {seconds:.1f} s", err=True)

    with unit_of_work() as db:
        result = seed_district(
            db,
            schools=schools,
            students=students,
            seed=seed,
            actor=_cli_actor(),
            bar=bar,
            on_step=step,
        )
    click.echo(
        f"district {result.district}: {len(result.schools)} school(s) "
        f"({', '.join(result.schools)}), {result.students} students in "
        f"{result.households} households; autumn term 2026 run "
        f"in {sum(result.seconds.values()):.1f} s"
    )
    for finding in result.findings:
        click.echo(f"  {finding.severity} {finding.rule} {finding.school} {finding.subject}")
    click.echo(f"audit: {len(result.findings)} finding(s)")


@demo_group.command(
    "report", help="Per school and district: billed, collected, subsidies, pay, audit, books."
)
@click.option("--district", default=None, help="District code (default: every district).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@with_appcontext
def demo_report(district: str | None, as_json: bool) -> None:
    import json

    from .demo_seed import district_report, format_report

    with unit_of_work() as db:
        blocks = district_report(db, district)
    if district and not blocks:
        raise click.ClickException(f"not_found: no district {district} with schools")
    if as_json:
        click.echo(json.dumps(blocks, ensure_ascii=False, indent=1))
        return
    for line in format_report(blocks):
        click.echo(line)


@click.group("billing", help="Billing runs.")
def billing_group() -> None:
    pass


@billing_group.command(
    "run", help="Bill a term (or one month of it) for a school, with progress on stderr."
)
@click.option("--school", "school_code", required=True, help="School code.")
@click.option("--term", "term_id", required=True, type=int, help="Term id.")
@click.option("--month", default=None, help="YYYY-MM: bill only this month of the term.")
@click.option(
    "--issued-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Invoice date (default today).",
)
@click.option("--due-days", type=click.IntRange(0, 365), default=15, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the totals; write nothing.")
@click.option(
    "--queue",
    "to_queue",
    is_flag=True,
    help="Send the run to a worker (KEHOU_QUEUE_URL, `kehou worker`); prints the job id.",
)
@with_appcontext
def billing_run(
    school_code: str,
    term_id: int,
    month: str | None,
    issued_on: dt.datetime | None,
    due_days: int,
    dry_run: bool,
    to_queue: bool = False,
) -> None:
    from ledger.money import format_fen
    from ledger.school import billing
    from ledger.school.models import School, Term

    from . import audit

    parsed = None
    if month is not None:
        try:
            year, mon = (int(x) for x in month.split("-"))
            dt.date(year, mon, 1)
        except ValueError:
            raise click.BadParameter(f"{month!r} is not YYYY-MM", param_hint="--month") from None
        parsed = (year, mon)

    def progress(stage: str, done: int, total: int) -> None:
        click.echo(f"{stage} {done}/{total}", err=True)

    if to_queue and not dry_run:
        from .queue_cli import enqueue_billing

        enqueue_billing(school_code, term_id, month, issued_on, due_days)
        return
    with unit_of_work() as db:
        school = db.scalar(select(School).where(School.code == school_code))
        term = db.get(Term, term_id)
        if school is None:
            raise click.ClickException(f"not_found: no school {school_code}")
        if term is None or term.school_id != school.id:
            raise click.ClickException(f"not_found: no term {term_id} at school {school_code}")
        result = billing.run_billing(
            db,
            school,
            term,
            actor=_cli_actor(),
            month=parsed,
            issued_on=issued_on.date() if issued_on else dt.date.today(),
            due_days=due_days,
            dry_run=dry_run,
            progress=progress,
        )
        if dry_run:
            db.rollback()
        elif result.charges:
            audit.record(
                db,
                "billing.run",
                f"school:{school_code}/run:{result.run_id}",
                {"charges": len(result.charges), "period": str(result.period_start)},
                actor=_cli_actor(),
            )
    totals = ", ".join(f"{k} {format_fen(v)}" for k, v in result.totals.items())
    verb = "would bill" if dry_run else "billed"
    click.echo(
        f"{verb} {len(result.charges)} charge(s) on {len(result.invoices)} invoice(s) "
        f"for {result.period_start}..{result.period_end}; "
        f"{result.already_billed} already billed; {totals}"
    )


def _create_app():  # type: ignore[no-untyped-def]
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Kehou Ledger: fee, subsidy and cost-sharing ledger for after-school programmes."""
