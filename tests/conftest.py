"""Fixtures: one fresh database per test run, built with the migrations.

SQLite by default (a file in a temporary folder); PostgreSQL when
``KEHOU_TEST_DATABASE_URL`` names a server, on which a database of its own is
created for the run and dropped afterwards. Each test runs inside a
transaction that is rolled back at the end; tests that need committed data
(threads, subprocesses, a live server) take ``throwaway_url`` instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api import create_app
from api.auth import create_user
from api.db import upgrade
from ledger.database import make_engine

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SERVER_URL = os.environ.get("KEHOU_TEST_DATABASE_URL")
DB_FIXTURES = {
    "engine",
    "connection",
    "db",
    "app",
    "client",
    "throwaway_url",
    "database_url",
    "tokens",
    "api",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
        if item.get_closest_marker("pg_only") and not is_postgres():
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (KEHOU_TEST_DATABASE_URL)"))


def is_postgres() -> bool:
    return bool(SERVER_URL) and make_url(SERVER_URL).get_backend_name() == "postgresql"


def _create_pg_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"kehou_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(server_url: str, db_url: str) -> None:
    name = make_url(db_url).database
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if is_postgres():
        url = _create_pg_database(SERVER_URL)
        yield url
        _drop_pg_database(SERVER_URL, url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """A session inside the test's transaction; its commits are savepoints."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def throwaway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of the test's own, for committed data; dropped afterwards."""
    if is_postgres():
        url = _create_pg_database(SERVER_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('throwaway') / 'db.sqlite'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    if is_postgres():
        _drop_pg_database(SERVER_URL, url)


@pytest.fixture
def app(connection: Connection, database_url: str):  # type: ignore[no-untyped-def]
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "ENV": "testing"})
    app.extensions["kehou_db"].bind(connection)
    yield app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def make_token(db: Session) -> Callable[[str, str | None], str]:
    """Create a user with a role and return their bearer token."""

    def make(role: str, email: str | None = None) -> str:
        _, token = create_user(db, email or f"{role}-{uuid.uuid4().hex[:8]}@test.kehou", role)
        db.commit()
        return token

    return make


class Api:
    """The test client with a caller's token: ``api.post(path, json=..., key=...)``."""

    def __init__(self, client, token: str | None) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.token = token

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        h = dict(extra)
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if key:
            h["Idempotency-Key"] = key
        return h

    def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=self.headers(), **kw)

    def post(self, path: str, json=None, key: str | None = None, **kw):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=json, headers=self.headers(key), **kw)

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)


@pytest.fixture
def tokens(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {role: make_token(role) for role in ("admin", "finance", "auditor", "parent", "teacher")}


@pytest.fixture
def api(client, tokens) -> Api:  # type: ignore[no-untyped-def]
    """The API as a finance user; ``api.as_(tokens['auditor'])`` for another caller."""
    return Api(client, tokens["finance"])


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium, launched headless through Playwright (tests/browser_setup.py)."""
    from browser_setup import CHROMIUM, LAUNCH_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
