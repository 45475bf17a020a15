"""``kehou backup PATH`` and ``kehou restore PATH``: the embedded SQLite database, copied safely.

**Backup** uses SQLite's online backup API (:meth:`sqlite3.Connection.backup`)
in one step: it reads a consistent snapshot inside one read transaction, so
it is safe while the service runs — in WAL mode writers go on meanwhile, and
what they commit afterwards is simply not in the copy. The copy is written
next to ``PATH`` and renamed into place once complete (never a half-written
file under the final name), switched to ``journal_mode=DELETE`` so that it is
one self-contained file, and checked: ``PRAGMA integrity_check``, the
migration it is at, and every book's hash chain and trial balance. An
existing file is not overwritten without ``--force``.

**Restore** first checks the backup: an SQLite file, intact, with Kehou's
``alembic_version`` at this release's migration head (a backup of another
release is refused: restore it with that release, or into a scratch database
to upgrade), and every book's hash chain verifying with debits equal to
credits. It refuses a target database that holds any row unless ``--force``
(an empty or freshly migrated one is fine), then copies with the same backup
API (so a target in WAL mode is written through SQLite, never under its
feet), and verifies the result once more. Stop the service before a restore.

PostgreSQL is backed up with its own tools; both commands refuse and print
the documented ``pg_dump`` / ``pg_restore`` commands (README, "Running in
production").
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import create_engine, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore refused, with the reason to show."""


@dataclass(frozen=True)
class BookCheck:
    code: str
    entries: int
    chain_ok: bool
    problem: str | None
    debit: int
    credit: int
    mismatches: int

    @property
    def ok(self) -> bool:
        return self.chain_ok and self.debit == self.credit and not self.mismatches


@dataclass(frozen=True)
class Checked:
    """What a database file holds: its migration and every book's checks."""

    path: Path
    revision: str
    books: tuple[BookCheck, ...]

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.books)


def migration_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from .db import alembic_config

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from .db import alembic_config

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def sqlite_file(url: str | URL) -> Path | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:") or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    else:
        conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _rows_in(path: Path) -> int:
    """How many rows the database holds outside ``alembic_version`` (0: empty or just migrated)."""
    with closing(_connect(path, readonly=True)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if name != "alembic_version"
        ]
        return sum(
            # Table names from sqlite_master, quoted: no input of anyone's in the statement.
            conn.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{t}" LIMIT 1)').fetchone()[0]  # noqa: S608
            for t in tables
        )


def check(path: Path, *, verify_books: bool = True) -> Checked:
    """Refuse a file that is not an intact Kehou database at this release's head; check books."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    if not _is_sqlite(path):
        raise BackupError(f"{path} is not an SQLite database, so not a Kehou backup")
    try:
        with closing(_connect(path, readonly=True)) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            has_version = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
            versions = (
                [v for (v,) in conn.execute("SELECT version_num FROM alembic_version")]
                if has_version
                else []
            )
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as an SQLite database: {exc}") from None
    if integrity != "ok":
        raise BackupError(f"{path} is damaged (integrity_check: {integrity})")
    heads = migration_heads()
    if not versions or not set(versions) <= _known_revisions():
        raise BackupError(f"{path} is not a Kehou database (no Kehou migration recorded in it)")
    if set(versions) != heads:
        raise BackupError(
            f"{path} is at migration {', '.join(versions)}, not at this release's "
            f"{', '.join(sorted(heads))}: restore it with the release that wrote it, or restore "
            "it into a scratch database and run `kehou db upgrade` there"
        )
    return Checked(path, versions[0], _check_books(path) if verify_books else ())


def _check_books(path: Path) -> tuple[BookCheck, ...]:
    from ledger.books import Book, balance_mismatches, trial_balance, verify_chain
    from ledger.books.models import Entry

    url = f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true"
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            out = []
            for book in db.scalars(select(Book).order_by(Book.code)):
                chain = verify_chain(db, book.id)
                tb = trial_balance(db, book)
                entries = db.scalar(
                    select(Entry.number)
                    .where(Entry.book_id == book.id)
                    .order_by(Entry.number.desc())
                    .limit(1)
                )
                out.append(
                    BookCheck(
                        book.code,
                        int(entries or 0),
                        chain.ok,
                        chain.problem,
                        tb.total_debit,
                        tb.total_credit,
                        len(balance_mismatches(db, book)),
                    )
                )
            return tuple(out)
    finally:
        engine.dispose()


def _copy(source: Path, target: sqlite3.Connection) -> None:
    """The whole database in one step of the backup API: one consistent snapshot."""
    with closing(_connect(source, readonly=True)) as src:
        src.backup(target)


def _write_new(source: Path, target: Path) -> None:
    """Copy into a new file beside ``target`` and rename it into place once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    for leftover in (part, Path(f"{part}-journal")):
        leftover.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(part)) as dst:
            _copy(source, dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal/-shm
            dst.commit()
        with part.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def backup(source: Path, target: Path, *, force: bool = False, verify: bool = True) -> Checked:
    """Copy the live database ``source`` to ``target`` (refused if it exists, unless ``force``)."""
    if not source.is_file() or not _is_sqlite(source):
        raise BackupError(f"no SQLite database at {source}")
    if source.resolve() == target.resolve():
        raise BackupError("the backup must be another file than the database")
    if target.exists() and not force:
        raise BackupError(f"{target} exists; give another path, or --force to replace it")
    if target.exists() and not target.is_file():
        raise BackupError(f"{target} is not a file")
    _write_new(source, target)
    return check(target, verify_books=verify)


def restore(source: Path, target: Path, *, force: bool = False) -> Checked:
    """Check the backup ``source``, then copy it over the database file ``target``."""
    checked = check(source)
    bad = [b for b in checked.books if not b.ok]
    if bad:
        raise BackupError(
            f"{source}: book(s) {', '.join(b.code for b in bad)} do not verify "
            f"({'; '.join(b.problem or 'trial balance off' for b in bad)}); nothing restored"
        )
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError("the backup and the database are the same file")
    if target.exists() and target.stat().st_size > 0:
        if not _is_sqlite(target):
            if not force:
                raise BackupError(f"{target} exists and is not a database; --force to replace it")
            for stale in ("-wal", "-shm", "-journal"):
                Path(f"{target}{stale}").unlink(missing_ok=True)
            _write_new(source, target)
        else:
            rows = _rows_in(target)
            if rows and not force:
                raise BackupError(
                    f"{target} already holds data; restoring would replace it — "
                    "stop the service, keep a backup of it, and run again with --force"
                )
            with closing(_connect(target)) as dst:
                wal = dst.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                _copy(source, dst)
                if wal:
                    dst.execute("PRAGMA journal_mode=WAL")
                dst.commit()
    else:
        _write_new(source, target)
    return check(target)


# --------------------------------------------------------------------------- commands


def _describe(checked: Checked) -> Iterator[str]:
    from ledger.money import format_fen

    yield f"migration {checked.revision}; {len(checked.books)} book(s)"
    for b in checked.books:
        state = "ok" if b.ok else f"FAILED ({b.problem or 'trial balance off'})"
        yield (
            f"  book {b.code}: {b.entries} entries, hash chain "
            f"{'verifies' if b.chain_ok else 'broken'}, trial balance debits "
            f"{format_fen(b.debit)} = credits {format_fen(b.credit)}: {state}"
        )


def _pg_refusal(url: URL, command: str, path: str) -> click.ClickException:
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=True)
    if command == "backup":
        how = (
            f"  pg_dump -Fc --no-owner -d '{conninfo}' -f '{path}'\n"
            "(and continuous WAL archiving for point-in-time recovery)"
        )
    else:
        restored = url.set(drivername="postgresql", database=f"{url.database}_restored")
        restored_info = restored.render_as_string(hide_password=True)
        how = (
            f"  createdb --maintenance-db='{conninfo}' '{restored.database}'\n"
            f"  pg_restore --no-owner --exit-on-error -d '{restored_info}' '{path}'\n"
            "then point KEHOU_DATABASE_URL at the new database, run `kehou db upgrade`, and "
            "check every book with GET /api/v1/books/{book}/chain and /trial-balance before "
            "switching over"
        )
    return click.ClickException(
        f"kehou {command} copies the embedded SQLite database; this one is PostgreSQL. "
        f"Use PostgreSQL's own tools (README, 'Running in production'):\n{how}"
    )


def _database_file(command: str, path: str) -> Path:
    url = make_url(current_app.config["DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        raise _pg_refusal(url, command, path)
    found = sqlite_file(url)
    if found is None:
        raise click.ClickException(f"kehou {command} needs an SQLite database file, not {url}")
    return found


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None


@click.command(
    "backup",
    help="Copy the SQLite database to PATH while the service runs (SQLite's online backup "
    "API), then check the copy: integrity, migration, every book's hash chain and trial "
    "balance. PostgreSQL: prints the pg_dump command instead.",
)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.option(
    "--no-verify", is_flag=True, help="Skip checking the books in the copy (large databases)."
)
@with_appcontext
def backup_command(path: str, force: bool, no_verify: bool) -> None:
    source = _database_file("backup", path)
    started = dt.datetime.now(dt.UTC)
    with _refusals():
        checked = backup(source, Path(path), force=force, verify=not no_verify)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    click.echo(f"backed up {source} to {path} in {seconds:.1f} s; {os.path.getsize(path)} bytes")
    for line in _describe(checked):
        click.echo(line)
    if not checked.ok:
        raise click.ClickException("the copy was made, but some book does not verify (above)")


@click.command(
    "restore",
    help="Replace the SQLite database with the backup at PATH, after checking that PATH is a "
    "Kehou database at this release's migration head whose books verify. Refuses a database "
    "that holds data unless --force; stop the service first. PostgreSQL: prints the "
    "pg_restore path instead.",
)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(path: str, force: bool) -> None:
    target = _database_file("restore", path)
    with _refusals():
        checked = restore(Path(path), target, force=force)
    click.echo(f"restored {path} into {target}")
    for line in _describe(checked):
        click.echo(line)
    if not checked.ok:
        raise click.ClickException("restored, but some book does not verify (above)")
