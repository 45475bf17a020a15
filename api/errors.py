"""Every error as ``application/problem+json``: type, title, status, detail, code, errors.

The domain raises its own exceptions with a stable ``code``; this module is
the one place where they become HTTP statuses. Unexpected exceptions become a
500 that names the request id and nothing of the exception's text.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, json
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from ledger.books.errors import DomainError
from ledger.money import InvalidAmount

log = logging.getLogger("kehou.api")

PROBLEM = "application/problem+json"
_STATUS_OF_KIND = {"invalid": 422, "conflict": 409, "not_found": 404}
_CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
}


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    from werkzeug.http import HTTP_STATUS_CODES

    code = code or _CODE_OF_STATUS.get(status, "error")
    body = {
        "type": f"https://kehou.example/problems/{code.replace('_', '-')}",
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or {},
    }
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def note_rule(code: str) -> None:
    """Remember which rule a field validator saw broken, to name it in the 422."""
    codes = g.setdefault("rule_codes", [])
    codes.append(code)


def _field_errors(field: str | None, message: str) -> dict[str, Any]:
    return {field: [message]} if field else {}


def http_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages") or {}
    if isinstance(errors, dict) and set(errors) <= {"json", "query", "headers", "view_args"}:
        # webargs nests field messages by location; one location is the usual case.
        merged: dict[str, Any] = {}
        for part in errors.values():
            if isinstance(part, dict):
                merged.update(part)
        errors = merged
    code = data.get("code")
    if code is None and status == 422:
        codes = g.get("rule_codes") or []
        code = codes[0] if codes else "invalid_input"
    detail = data.get("message") or error.description or ""
    if status == 422 and errors and not data.get("message"):
        detail = "the request is invalid: " + "; ".join(_flatten(errors))
    headers = dict(data.get("headers") or {})
    return problem(status, detail, code=code, errors=errors, headers=headers)


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(errors, dict):
        for k, v in errors.items():
            out.extend(_flatten(v, f"{prefix}{k}." if not isinstance(v, list) else f"{prefix}{k}"))
    elif isinstance(errors, list):
        for m in errors:
            if isinstance(m, (dict, list)):
                out.extend(_flatten(m, prefix))
            else:
                out.append(f"{prefix.rstrip('.')}: {m}")
    else:
        out.append(f"{prefix.rstrip('.')}: {errors}")
    return out[:10]


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        status = _STATUS_OF_KIND.get(error.kind, 422)
        return problem(
            status,
            error.message,
            code=error.code,
            errors=_field_errors(error.field, error.message),
        )

    @app.errorhandler(InvalidAmount)
    def _amount(error: InvalidAmount) -> Response:
        return problem(422, error.message, code=error.code)

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        log.warning("integrity error (request %s): %s", g.get("request_id"), error.orig)
        return problem(
            409,
            "the change conflicts with data written at the same time; nothing was written",
            code="integrity_conflict",
        )

    @app.errorhandler(OperationalError)
    def _operational(error: OperationalError) -> Response:
        log.exception("database error (request %s)", g.get("request_id"))
        return problem(
            503,
            "the database is busy or unavailable; nothing was written, try again",
            code="database_unavailable",
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return http_problem(error)
        log.exception("unhandled error (request %s)", g.get("request_id"))
        return problem(
            500,
            f"an internal error occurred; nothing was written (request id {g.get('request_id')})",
            code="internal_error",
        )
