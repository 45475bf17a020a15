"""Replaying a request by its Idempotency-Key when the domain keeps no key of its own.

Cancelling an invoice, reissuing it, deciding a write-off, closing a period or
a year and crediting a late waiver each change state once; their second call
is refused by the domain (``invoice_already_cancelled``, ``write_off_decided``
…). A client that retries after a lost response must not see that refusal
but the first result. The audit line of the first request records the key
(``detail["key"]``) with its action and target, so a retry with the same key
on the same target is recognised and answered 200 with the result as it
stands; the same key on another target is a new request.

The audit line also keeps a fingerprint of the request body
(:func:`fingerprint`): the same key sent again with a different body is not a
retry but a mistake, refused 409 ``idempotency_key_reused`` as the books
engine refuses an entry key reused with other content.
"""

from __future__ import annotations

import hashlib
import json

from flask import request
from sqlalchemy import select

from ledger.books import Entry
from ledger.books.errors import IdempotencyConflict

from .database import session
from .models import AuditRecord


def fingerprint() -> str | None:
    """SHA-256 of the current request's JSON body in canonical form (keys sorted).

    Two bodies that differ only in key order or spacing have the same
    fingerprint; ``None`` outside a request.
    """
    if not request:
        return None
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def seen(action: str, target: str, key: str | None) -> bool:
    """Whether a committed request with ``action`` on ``target`` carried this key.

    Refused (``idempotency_key_reused``) when it did but with another body.
    """
    return bool(details(action, target, key))


def details(action: str, target: str, key: str | None) -> list[dict]:
    """The audit detail of the committed request with ``action`` on ``target`` and this key.

    At most one item; empty when there was none. Refused
    (``idempotency_key_reused``) when the key came with another body.
    """
    if key is None:
        return []
    for detail in session().scalars(
        select(AuditRecord.detail).where(AuditRecord.action == action, AuditRecord.target == target)
    ):
        try:
            recorded = json.loads(detail) if detail else {}
        except ValueError:
            continue
        if recorded.get("key") != key:
            continue
        body = recorded.get("body")
        if body is not None and body != fingerprint():
            raise IdempotencyConflict(
                f"Idempotency-Key {key!r} was used for {action} on {target} with another body",
                field="Idempotency-Key",
            )
        return [recorded]
    return []


def entry_exists(book_id: int, key: str) -> bool:
    """Whether the book holds an entry posted with this idempotency key."""
    return (
        session().scalar(
            select(Entry.id).where(Entry.book_id == book_id, Entry.idempotency_key == key)
        )
        is not None
    )
