"""``kehou backup`` and ``kehou restore``: a copy taken while the service runs restores whole.

A small book with entries (and a reversal) is backed up while a second
connection holds an open read and a third an uncommitted write; the backup
is restored into a new database file, where every hash chain verifies and
the trial balance is zero and equal to the original's (the uncommitted entry
is in neither). Restore refuses a database that holds data without
``--force``, a file that is not a Kehou database, one at another migration,
and one whose hash chain was tampered with; backup refuses to overwrite a
file. On PostgreSQL both commands refuse and print the pg_dump / pg_restore
path, without the password.

On PostgreSQL the documented path itself is run: ``pg_dump -Fc`` of a
database with books, ``pg_restore --no-owner`` into a new one, and the same
checks. The SQLite tests use files of their own (no database fixture), so
CI runs them in its SQLite pass only.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_URL, _create_pg_database, _drop_pg_database
from engine_helpers import draft, make_book
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api import create_app
from api.backup import migration_heads
from api.db import alembic_config, upgrade
from ledger.books import Book, Entry, post_entry, reverse_entry, trial_balance, verify_chain
from ledger.database import make_engine

D = dt.date(2026, 9, 1)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at the migration head, to copy for each test."""
    path = tmp_path_factory.mktemp("template") / "empty.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _fresh(migrated: Path, path: Path) -> Path:
    shutil.copyfile(migrated, path)
    return path


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def live(migrated: Path, tmp_path: Path) -> Iterator[Path]:
    """The service's database: two books with entries, a reversal and a posting to each account."""
    path = _fresh(migrated, tmp_path / "live.sqlite")
    engine = make_engine(_url(path))
    with Session(engine) as db:
        for code in ("S1", "S2"):
            book = make_book(db, code)
            db.flush()
            for i in range(1, 8):
                post_entry(
                    db, book.id, draft(D, ("1002", 1000 * i), ("4001", -1000 * i)), actor="t"
                )
            spent = post_entry(db, book.id, draft(D, ("5001", 250), ("1002", -250)), actor="t")
            post_entry(db, book.id, draft(D, ("1122", 40_000), ("2241", -40_000)), actor="t")
            reverse_entry(db, book.id, spent.entry_id, effective_date=D, actor="t")
        db.commit()
    engine.dispose()
    yield path


def _cli(url: str, *args: str) -> Any:
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    try:
        return app.test_cli_runner().invoke(args=list(args))
    finally:
        app.extensions["kehou_db"].dispose()


def _books(url: str) -> dict[str, Any]:
    """Per book: entry count, chain verdict and the trial balance's lines."""
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            out = {}
            for book in db.scalars(select(Book).order_by(Book.code)):
                tb = trial_balance(db, book)
                out[book.code] = {
                    "entries": db.scalar(
                        select(func.count()).select_from(Entry).where(Entry.book_id == book.id)
                    ),
                    "chain": verify_chain(db, book.id).ok,
                    "debit": tb.total_debit,
                    "credit": tb.total_credit,
                    "lines": [(x.code, x.debit, x.credit) for x in tb.lines],
                }
            return out
    finally:
        engine.dispose()


def test_a_backup_taken_while_the_service_runs_restores_whole(live: Path, tmp_path: Path):
    original = _books(_url(live))
    assert set(original) == {"S1", "S2"}
    assert all(b["chain"] and b["debit"] == b["credit"] > 0 for b in original.values())

    # A reader in the middle of a read transaction, and a writer with an entry not yet committed.
    reader = sqlite3.connect(live)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM entries").fetchone()[0] == 20
    writer_engine = make_engine(_url(live))
    writer = Session(writer_engine)
    s1 = writer.scalar(select(Book).where(Book.code == "S1"))
    post_entry(writer, s1.id, draft(D, ("1002", 999), ("4001", -999)), actor="t")
    writer.flush()
    try:
        backup = tmp_path / "backups" / "kehou-2026-09-01.sqlite"
        r = _cli(_url(live), "backup", str(backup))
        assert r.exit_code == 0, r.output
        assert "book S1: 10 entries, hash chain verifies" in r.output
        assert "book S2: 10 entries" in r.output
        # The read is still open and still reads; the write goes on and commits after the copy.
        assert reader.execute("SELECT count(*) FROM entries").fetchone()[0] == 20
        writer.commit()
    finally:
        reader.rollback()
        reader.close()
        writer.close()
        writer_engine.dispose()
    assert _books(_url(live))["S1"]["entries"] == 11

    # One self-contained file: no -wal beside it, and not in WAL mode.
    assert not Path(f"{backup}-wal").exists()
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    restored = tmp_path / "restored" / "kehou.sqlite"
    r = _cli(_url(restored), "restore", str(backup))
    assert r.exit_code == 0, r.output
    assert "hash chain verifies" in r.output
    after = _books(_url(restored))
    assert after == original  # the snapshot: without the entry committed after it
    for book in after.values():
        assert book["chain"] and book["debit"] == book["credit"]

    # The restored database serves the API: the app reads it like any other.
    app = create_app({"DATABASE_URL": _url(restored), "TESTING": True})
    try:
        r = app.test_cli_runner().invoke(args=["users", "list"])
        assert r.exit_code == 0, r.output
    finally:
        app.extensions["kehou_db"].dispose()


def test_backup_does_not_overwrite_a_file_without_force(live: Path, tmp_path: Path):
    target = tmp_path / "backup.sqlite"
    target.write_bytes(b"keep me")
    r = _cli(_url(live), "backup", str(target))
    assert r.exit_code != 0 and "exists" in r.output
    assert target.read_bytes() == b"keep me"
    r = _cli(_url(live), "backup", str(target), "--force")
    assert r.exit_code == 0, r.output
    assert _books(_url(target)) == _books(_url(live))
    r = _cli(_url(live), "backup", str(live))
    assert r.exit_code != 0 and "another file" in r.output


def test_restore_refuses_a_database_that_holds_data_unless_forced(
    live: Path, migrated: Path, tmp_path: Path
):
    backup = tmp_path / "b.sqlite"
    assert _cli(_url(live), "backup", str(backup)).exit_code == 0
    other = tmp_path / "other.sqlite"
    shutil.copyfile(live, other)
    engine = make_engine(_url(other))
    with Session(engine) as db:
        make_book(db, "S9")
        db.commit()
    engine.dispose()
    before = _books(_url(other))

    r = _cli(_url(other), "restore", str(backup))
    assert r.exit_code != 0 and "already holds data" in r.output and "--force" in r.output
    assert _books(_url(other)) == before

    # --force replaces it, through SQLite (the target stays in WAL mode, as the app runs it).
    r = _cli(_url(other), "restore", str(backup), "--force")
    assert r.exit_code == 0, r.output
    assert _books(_url(other)) == _books(_url(live))
    with sqlite3.connect(other) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # A database that is only migrated holds no data: no --force needed.
    empty = _fresh(migrated, tmp_path / "empty.sqlite")
    r = _cli(_url(empty), "restore", str(backup))
    assert r.exit_code == 0, r.output
    assert _books(_url(empty)) == _books(_url(live))


def _older_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    [head] = migration_heads()
    down = script.get_revision(head).down_revision
    return down if isinstance(down, str) else down[0]


@pytest.mark.parametrize(
    ("damage", "refusal"),
    [
        ("text", "not an SQLite database"),
        ("other_sqlite", "not a Kehou database"),
        ("unknown_revision", "not a Kehou database"),
        ("older_revision", "restore it with the release that wrote it"),
        ("tampered_chain", "do not verify"),
        ("missing", "no such file"),
    ],
)
def test_restore_refuses_what_is_not_a_sound_kehou_backup_of_this_release(
    live: Path, tmp_path: Path, damage: str, refusal: str
):
    bad = tmp_path / "bad.sqlite"
    if damage == "text":
        bad.write_text("date,amount\n2026-09-01,1.00\n")
    elif damage == "other_sqlite":
        with sqlite3.connect(bad) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
            conn.execute("INSERT INTO notes VALUES ('hello')")
        conn.close()
    elif damage != "missing":
        assert _cli(_url(live), "backup", str(bad)).exit_code == 0
        conn = sqlite3.connect(bad)
        if damage == "unknown_revision":
            conn.execute("UPDATE alembic_version SET version_num = 'deadbeef0000'")
        elif damage == "older_revision":
            conn.execute("UPDATE alembic_version SET version_num = ?", (_older_revision(),))
        else:
            # Past the database's guard, as in tests/test_tamper_detection.py.
            conn.execute("DROP TRIGGER entries_no_update")
            conn.execute("UPDATE entries SET memo = 'changed' WHERE number = 3")
        conn.commit()
        conn.close()
    target = tmp_path / "target.sqlite"
    r = _cli(_url(target), "restore", str(bad))
    assert r.exit_code != 0
    assert refusal in r.output, r.output
    assert not target.exists()


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_on_postgresql_the_commands_point_to_pg_dump_and_pg_restore(tmp_path: Path, command: str):
    url = "postgresql+psycopg://kehou:s3cret-pw@db.example:5432/kehou"
    r = _cli(url, command, str(tmp_path / "kehou.dump"))
    assert r.exit_code != 0
    assert "s3cret-pw" not in r.output
    assert ("pg_dump -Fc" if command == "backup" else "pg_restore --no-owner") in r.output
    assert "postgresql://kehou:***@db.example:5432/kehou" in r.output
    if command == "restore":
        assert "-d 'postgresql://kehou:***@db.example:5432/kehou_restored'" in r.output
    assert not (tmp_path / "kehou.dump").exists()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.pg_only
def test_on_postgresql_the_documented_pg_dump_and_pg_restore_path_restores_whole(
    throwaway_url: str, tmp_path: Path
):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump / pg_restore are not installed")
    engine = make_engine(throwaway_url)
    with Session(engine) as db:
        book = make_book(db, "P1")
        db.flush()
        for i in range(1, 6):
            post_entry(db, book.id, draft(D, ("1002", 100 * i), ("4001", -100 * i)), actor="t")
        first = post_entry(db, book.id, draft(D, ("5001", 70), ("1002", -70)), actor="t")
        reverse_entry(db, book.id, first.entry_id, effective_date=D, actor="t")
        db.commit()
    engine.dispose()
    original = _books(throwaway_url)
    assert original["P1"]["entries"] == 7 and original["P1"]["chain"]

    dump = tmp_path / "kehou.dump"
    subprocess.run(
        ["pg_dump", "-Fc", "--no-owner", "-d", _libpq(throwaway_url), "-f", str(dump)],
        check=True,
        timeout=300,
    )
    restored = _create_pg_database(SERVER_URL)
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(restored), str(dump)],
            check=True,
            timeout=300,
        )
        restored_engine = make_engine(restored)
        upgrade(restored_engine)  # `kehou db upgrade`: nothing to do at the same release
        restored_engine.dispose()
        after = _books(restored)
        assert after == original
        assert after["P1"]["debit"] == after["P1"]["credit"]
    finally:
        _drop_pg_database(SERVER_URL, restored)
