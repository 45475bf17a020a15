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
    }


#: Settings read from the environment as ``KEHOU_<NAME>``.
_FROM_ENV = ("DATABASE_URL", "ENV", "SECRET_KEY")


def load(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    values = defaults()
    for name in _FROM_ENV:
        env = os.environ.get(f"KEHOU_{name}")
        if env:
            values[name] = env
    if config:
        values.update(config)
    return values
