"""Engines for the two supported databases, set up for money.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` so a
committed entry survives a power cut, enforces foreign keys, and opens every
transaction with ``BEGIN IMMEDIATE``: the write lock is taken up front, so two
writers never deadlock on a lock upgrade and the book-level lock the engine
relies on holds. PostgreSQL uses psycopg 3 with ``synchronous_commit=on``;
``statement_timeout_ms`` (when given and not zero) makes PostgreSQL cancel any
statement that runs longer, so a runaway query cannot hold a book's lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str, *, statement_timeout_ms: int | None = None, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {})
        kwargs["connect_args"].setdefault("timeout", 30)
        kwargs["connect_args"].setdefault("check_same_thread", False)
        engine = create_engine(url, **kwargs)
        _setup_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        _setup_postgresql(engine, statement_timeout_ms)
        return engine
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def _setup_sqlite(engine: Engine) -> None:
    memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _setup_postgresql(engine: Engine, statement_timeout_ms: int | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET synchronous_commit TO on")
            cur.execute("SET TIME ZONE 'UTC'")
            if statement_timeout_ms:
                cur.execute(f"SET statement_timeout TO {int(statement_timeout_ms)}")
        dbapi_conn.commit()
