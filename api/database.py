"""One database session per request, committed once by the view that writes.

Views call domain functions, which only flush; :func:`commit` records the
audit line for the write and commits the whole request in one transaction.
Whatever was not committed is rolled back when the request ends.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.database import make_engine

from .config import engine_options


class Database:
    def __init__(self, app: Flask | None = None) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.extensions["kehou_db"] = self
        app.teardown_appcontext(_close_session)

    def ensure(self, app: Flask) -> sessionmaker[Session]:
        """Create the engine on first use, not at start-up (no queries at import or boot)."""
        if self.sessionmaker is None:
            self.engine = make_engine(app.config["DATABASE_URL"], **engine_options(app.config))
            self.bind(self.engine)
        return self.sessionmaker

    def bind(self, bind: Any) -> None:
        """Point sessions at an engine or connection (tests bind to a rolled-back one)."""
        opts: dict[str, Any] = {"expire_on_commit": False}
        if not isinstance(bind, Engine):
            opts["join_transaction_mode"] = "create_savepoint"
        self.sessionmaker = sessionmaker(bind=bind, **opts)

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def get_db() -> Database:
    return current_app.extensions["kehou_db"]


def session() -> Session:
    """The request's session, created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().ensure(current_app)()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
