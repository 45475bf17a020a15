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
    }


#: Settings read from the environment as ``KEHOU_<NAME>``.
_FROM_ENV = ("DATABASE_URL", "ENV", "SECRET_KEY", "WRITE_OFF_LIMIT")


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


def write_off_limit_fen(values: Mapping[str, Any]) -> int:
    """The write-off limit in fen, from a setting such as ``"10.00"`` (zero: no write-offs)."""
    from ledger.money import InvalidAmount, parse_amount

    try:
        return parse_amount(str(values["WRITE_OFF_LIMIT"]), allow_zero=True)
    except InvalidAmount as e:
        raise ValueError(f"KEHOU_WRITE_OFF_LIMIT: {e}") from None
