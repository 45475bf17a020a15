"""One exception class per broken rule of the books.

Each carries a stable ``code`` (the rule's name, used in API errors), a
``kind`` (``invalid`` input or broken rule, ``conflict`` with the state of the
books, ``not_found``) and optionally the ``field`` that was wrong. The API
turns them into HTTP responses in one place; the domain knows nothing of HTTP.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    kind = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    code = "not_found"
    kind = "not_found"


class BookExists(DomainError):
    code = "book_exists"
    kind = "conflict"


class AccountExists(DomainError):
    code = "account_exists"
    kind = "conflict"


class InvalidAccount(DomainError):
    code = "invalid_account"


class UnknownAccount(DomainError):
    code = "unknown_account"


class AccountClosed(DomainError):
    code = "account_closed"


class AccountNotZero(DomainError):
    code = "account_not_zero"


class UnbalancedEntry(DomainError):
    code = "unbalanced_entry"


class TooFewPostings(DomainError):
    code = "too_few_postings"


class InvalidPostingAmount(DomainError):
    code = "invalid_posting_amount"


class InvalidEntry(DomainError):
    code = "invalid_entry"


class PeriodClosed(DomainError):
    code = "period_closed"


class PeriodOverlap(DomainError):
    code = "period_overlap"
    kind = "conflict"


class PeriodAlreadyClosed(DomainError):
    code = "period_already_closed"
    kind = "conflict"


class InvalidPeriod(DomainError):
    code = "invalid_period"


class IdempotencyConflict(DomainError):
    code = "idempotency_key_reused"
    kind = "conflict"


class AlreadyReversed(DomainError):
    code = "already_reversed"
    kind = "conflict"


class CannotReverseReversal(DomainError):
    code = "cannot_reverse_reversal"
