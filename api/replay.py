"""Replaying a request by its Idempotency-Key when the domain keeps no key of its own.

Cancelling an invoice, reissuing it, deciding a write-off, closing a period or
a year and crediting a late waiver each change state once; their second call
is refused by the domain (``invoice_already_cancelled``, ``write_off_decided``
…). A client that retries after a lost response must not see that refusal
but the first result. The audit line of the first request records the key
(``detail["key"]``) with its action and target, so a retry with the same key
on the same target is recognised and answered 200 with the result as it
stands; the same key on another target is a new request.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from ledger.books import Entry

from .database import session
from .models import AuditRecord


def seen(action: str, target: str, key: str | None) -> bool:
    """Whether a committed request with ``action`` on ``target`` carried this key."""
    if key is None:
        return False
    for detail in session().scalars(
        select(AuditRecord.detail).where(AuditRecord.action == action, AuditRecord.target == target)
    ):
        try:
            if detail and json.loads(detail).get("key") == key:
                return True
        except ValueError:
            continue
    return False


def entry_exists(book_id: int, key: str) -> bool:
    """Whether the book holds an entry posted with this idempotency key."""
    return (
        session().scalar(
            select(Entry.id).where(Entry.book_id == book_id, Entry.idempotency_key == key)
        )
        is not None
    )
