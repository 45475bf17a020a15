"""The driver-level cursor the posting hot paths use, for both databases.

SQLAlchemy builds, caches and wraps every statement, which costs more than
SQLite needs to run it; the journal's few fixed statements are written once
here with ``:name`` parameters and run on the transaction's own DBAPI cursor.
Values are adapted the way SQLAlchemy stores them, so the ORM reads the same
rows back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=256)
def _pg_text(text: str) -> str:
    return _PARAM.sub(r"%(\1)s", text)


class Raw:
    """Runs fixed SQL on the DBAPI cursor of a SQLAlchemy connection's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        if conn.dialect.name not in ("postgresql", "sqlite"):  # pragma: no cover
            raise ValueError(f"unsupported database {conn.dialect.name}")
        self.driver = conn.connection.driver_connection
        self.cur = self.driver.cursor()

    def _sql(self, text: str) -> str:
        return _pg_text(text) if self.pg else text

    def one(self, text: str, params: Mapping[str, Any] | None = None) -> tuple | None:
        self.cur.execute(self._sql(text), params or {})
        return self.cur.fetchone()

    def all(self, text: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        self.cur.execute(self._sql(text), params or {})
        return self.cur.fetchall()

    def run(self, text: str, params: Mapping[str, Any] | None = None) -> None:
        self.cur.execute(self._sql(text), params or {})

    def many(self, text: str, rows: Iterable[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(self._sql(text), rows)

    # SQLAlchemy keeps dates and datetimes as text on SQLite; match its format.
    def date(self, value: dt.date) -> Any:
        return value if self.pg else value.isoformat()

    def timestamp(self, value: dt.datetime) -> Any:
        return value if self.pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def to_date(self, value: Any) -> dt.date:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)

    @property
    def true(self) -> Any:
        return True if self.pg else 1

    def close(self) -> None:
        self.cur.close()


_RESERVABLE = frozenset({"entries", "accounts", "invoices", "charges"})


def reserve_ids(conn: Connection, table: str, n: int) -> list[int]:
    """``n`` fresh primary keys of ``table`` for rows inserted in bulk in this transaction.

    PostgreSQL takes them from the table's sequence; on SQLite the transaction
    holds the database's write lock (``BEGIN IMMEDIATE``), so the ids after the
    current maximum are free until it commits.
    """
    if table not in _RESERVABLE:
        raise ValueError(f"ids of {table!r} are not reserved in bulk")
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
            "FROM generate_series(1, %(n)s)",
            {"n": n},
        ).all()
        return sorted(r[0] for r in rows)
    top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()  # noqa: S608
    return list(range(top + 1, top + 1 + n))
