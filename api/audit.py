"""The audit log: every write, with who, what, when and the request it came in."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import insert
from sqlalchemy.orm import Session

from .database import session
from .models import AuditRecord
from .replay import fingerprint

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def record(
    db: Session,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    user_id: int | None = None,
) -> None:
    """Add an audit line to the current transaction (outside a request, pass ``actor``).

    A line whose ``detail`` carries an Idempotency-Key also keeps the request
    body's fingerprint, so that a replay with another body can be refused.
    """
    in_request = bool(g) and "user" in g
    if detail and detail.get("key") and request:
        detail = {**detail, "body": fingerprint()}
    # A Core insert built once, not an ORM object: every write request ends here, and the
    # unit of work costs more than the insert itself. The row is in the transaction either way.
    db.execute(
        _INSERT,
        {
            "user_id": user_id if user_id is not None else (g.user.id if in_request else None),
            "actor": actor or (g.user.email if in_request else "system"),
            "action": action,
            "target": target,
            "request_id": g.get("request_id") if g else None,
            "method": request.method if request else None,
            "path": request.path[:500] if request else None,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
        },
    )


_INSERT = insert(AuditRecord.__table__)


def commit(action: str, target: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Record the write in the audit log and commit the request's one transaction."""
    db = session()
    record(db, action, target, detail)
    db.commit()


def _request_id() -> None:
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    if g.get("request_id"):
        response.headers["X-Request-Id"] = g.request_id
    return response


def init_app(app: Flask) -> None:
    app.before_request(_request_id)
    app.after_request(_echo_request_id)
