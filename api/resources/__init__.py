"""One flask-smorest Blueprint per resource."""

from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter, UnicodeConverter

#: The largest id a database row can have (BIGINT / SQLite INTEGER).
MAX_ID = 2**63 - 1


class _StrictParser(FlaskParser):
    """webargs refuses unknown JSON fields but ignores unknown query parameters; refuse both.

    A mistyped filter (``?acount=4001``) must not silently answer the whole journal.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,  # None: the schema's own Meta.unknown (RAISE for api.schemas.Strict)
        "querystring": None,
    }


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _StrictParser()


# Route converters, installed by create_app(). Path values that no row can have answer 404
# instead of reaching the database driver, which fails on them with a 500.


class DatabaseId(IntegerConverter):
    """``<int:…>``: a number past the largest database id names nothing."""

    def __init__(self, url_map, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class PathText(UnicodeConverter):
    """``<…>`` / ``<string:…>``: no code contains NUL (which PostgreSQL cannot even compare)."""

    def __init__(self, url_map, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(url_map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", r"[^/\x00]", 1)
