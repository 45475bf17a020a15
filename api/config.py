"""Configuration: defaults, then ``KEHOU_*`` environment variables, then the caller's mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

INSTANCE = Path(os.environ.get("KEHOU_INSTANCE_PATH", Path.cwd() / "instance"))


def defaults() -> dict[str, Any]:
    return {
        "DATABASE_URL": f"sqlite:///{INSTANCE / 'kehou.sqlite'}",
        "ENV": "development",
        "LIST_LIMIT_MAX": 1000,
        "LIST_LIMIT_DEFAULT": 100,
        "MAX_CONTENT_LENGTH": 1 * 1024 * 1024,
        "API_TITLE": "Kehou Ledger",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
        "JSON_SORT_KEYS": False,
        # The most a second finance user may approve writing off (少不补), in yuan.
        "WRITE_OFF_LIMIT": "10.00",
        # PostgreSQL only: connections per process (and extra ones allowed under load),
        # and the longest a statement may run, in milliseconds (0: no limit).
        "DB_POOL_SIZE": 5,
        "DB_MAX_OVERFLOW": 10,
        "DB_STATEMENT_TIMEOUT_MS": 0,
        # Batch work (billing runs, document batches) through RQ on Redis: see api/queue.py.
        # No URL: everything runs in-process, so the embedded SQLite default needs no server.
        "QUEUE_URL": None,
        "QUEUE_NAME": "kehou",
        # Seconds to wait before each retry of a job that failed on a transient error.
        "QUEUE_RETRY_INTERVALS": "10,60,300",
        "QUEUE_JOB_TIMEOUT": 6 * 3600,
        "QUEUE_RESULT_TTL": 30 * 24 * 3600,
    }


#: Settings read from the environment as ``KEHOU_<NAME>``.
_FROM_ENV = (
    "DATABASE_URL",
    "ENV",
    "SECRET_KEY",
    "WRITE_OFF_LIMIT",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_STATEMENT_TIMEOUT_MS",
    "QUEUE_URL",
    "QUEUE_NAME",
    "QUEUE_RETRY_INTERVALS",
)
#: Settings that are whole numbers of at least zero.
_COUNTS = ("DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_STATEMENT_TIMEOUT_MS")


def load(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    values = defaults()
    for name in _FROM_ENV:
        env = os.environ.get(f"KEHOU_{name}")
        if env:
            values[name] = env
    if config:
        values.update(config)
    _check(values)
    return values


def _check(values: dict[str, Any]) -> None:
    """Refuse at start-up a setting that would be wrong at the first request."""
    write_off_limit_fen(values)
    for name in _COUNTS:
        raw = values[name]
        try:
            number = int(str(raw).strip())
        except ValueError:
            number = -1
        if number < 0 or isinstance(raw, bool):
            raise ValueError(f"KEHOU_{name}: expected a whole number of at least 0, got {raw!r}")
        values[name] = number
    if values["DB_POOL_SIZE"] == 0:
        raise ValueError("KEHOU_DB_POOL_SIZE: expected at least 1 connection, got 0")


def engine_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for :func:`ledger.database.make_engine` from the settings."""
    from sqlalchemy.engine import make_url

    if make_url(values["DATABASE_URL"]).get_backend_name() != "postgresql":
        return {}
    return {
        "pool_size": values["DB_POOL_SIZE"],
        "max_overflow": values["DB_MAX_OVERFLOW"],
        "statement_timeout_ms": values["DB_STATEMENT_TIMEOUT_MS"],
    }


def write_off_limit_fen(values: Mapping[str, Any]) -> int:
    """The write-off limit in fen, from a setting such as ``"10.00"`` (zero: no write-offs)."""
    from ledger.money import InvalidAmount, parse_amount

    try:
        return parse_amount(str(values["WRITE_OFF_LIMIT"]), allow_zero=True)
    except InvalidAmount as e:
        raise ValueError(f"KEHOU_WRITE_OFF_LIMIT: {e}") from None
