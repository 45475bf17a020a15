"""Production database settings: pool size, overflow and statement timeout come from
``KEHOU_DB_*``, are checked at start-up, and reach PostgreSQL's sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api import config
from ledger.database import make_engine

PG = "postgresql+psycopg://kehou@db.example/kehou"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_POOL_SIZE", "many"),
        ("DB_POOL_SIZE", "0"),
        ("DB_MAX_OVERFLOW", "-1"),
        ("DB_STATEMENT_TIMEOUT_MS", "1.5"),
        ("DB_STATEMENT_TIMEOUT_MS", True),
    ],
)
def test_a_malformed_setting_stops_the_app_from_starting(name, value):
    from api import create_app

    with pytest.raises(ValueError, match=f"KEHOU_{name}"):
        create_app({name: value, "DATABASE_URL": "sqlite://"})


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KEHOU_DATABASE_URL", PG)
    monkeypatch.setenv("KEHOU_DB_POOL_SIZE", "12")
    monkeypatch.setenv("KEHOU_DB_MAX_OVERFLOW", "3")
    monkeypatch.setenv("KEHOU_DB_STATEMENT_TIMEOUT_MS", "15000")
    values = config.load()
    assert config.engine_options(values) == {
        "pool_size": 12,
        "max_overflow": 3,
        "statement_timeout_ms": 15000,
    }


def test_sqlite_takes_no_pool_settings():
    values = config.load({"DATABASE_URL": "sqlite://", "DB_POOL_SIZE": "12"})
    assert config.engine_options(values) == {}


@pytest.mark.pg_only
def test_postgresql_cancels_a_statement_that_runs_too_long(database_url):
    engine = make_engine(database_url, statement_timeout_ms=300, pool_size=2, max_overflow=0)
    try:
        assert engine.pool.size() == 2
        with engine.connect() as conn:
            assert conn.scalar(text("SHOW statement_timeout")) == "300ms"
            conn.execute(text("SELECT pg_sleep(0.05)"))  # well within the limit
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()
    untimed = make_engine(database_url)
    try:
        with untimed.connect() as conn:
            assert conn.scalar(text("SHOW statement_timeout")) == "0"
    finally:
        untimed.dispose()
