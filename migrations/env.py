"""Alembic environment: the project's metadata, one connection handed in or made from the URL."""

from __future__ import annotations

from alembic import context

import api.models  # noqa: F401  (registers the API's tables)
import invoices.models  # noqa: F401
import ledger.audit.models  # noqa: F401
import ledger.books.models  # noqa: F401
import ledger.school.models  # noqa: F401
from ledger.books.orm import Base
from ledger.database import make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
