"""What the browser tests share: Debian's Chromium through Playwright, the billed term of
tests/term_over_http.py served over real HTTP on a throwaway database, and screenshots.

The app runs as a real HTTP server (werkzeug's ``make_server`` in a thread) on
a throwaway database of its own — SQLite, or PostgreSQL when
``KEHOU_TEST_DATABASE_URL`` is set. Screenshots go to
``test-artifacts/screenshots/`` (git-ignored). The tests are skipped, with the
reason, when /usr/bin/chromium is missing (``make test`` installs it through
scripts/test-deps.sh; never ``playwright install``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session
from term_over_http import Term, billed_term
from werkzeug.serving import make_server

from api import create_app
from api.auth import create_user
from ledger.database import make_engine

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]

#: ``pytestmark`` of every browser test module.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.once,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="the browser tests need Debian's chromium at /usr/bin/chromium "
        "(sudo apt-get install chromium, or `make test`, which runs scripts/test-deps.sh)",
    ),
]

T = TypeVar("T")


@contextmanager
def served_billed_term(
    throwaway_url: str, prepare: Callable[[Session, Term], T]
) -> Iterator[tuple[str, T]]:
    """The billed term in a throwaway database, ``prepare(db, term)`` run on it (its writes
    committed), then the app served on a free local port: yields ``(base_url, prepared)``."""
    app = create_app(
        {"DATABASE_URL": throwaway_url, "TESTING": True, "SECRET_KEY": uuid.uuid4().hex}
    )
    engine = make_engine(throwaway_url)
    try:
        with Session(engine, expire_on_commit=False) as db:

            def make_token(role: str) -> str:
                _, token = create_user(db, f"{role}-{uuid.uuid4().hex[:8]}@browser.kehou", role)
                db.commit()
                return token

            tokens = {r: make_token(r) for r in ("admin", "finance", "auditor", "parent")}
            term = billed_term(app.test_client(), db, tokens, make_token)
            prepared = prepare(db, term)
            db.commit()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", prepared
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    finally:
        app.extensions["kehou_db"].dispose()
        engine.dispose()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
