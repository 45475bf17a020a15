"""One exception class per broken rule of the after-school domain."""

from __future__ import annotations

from ledger.books.errors import DomainError, NotFound

__all__ = ["DomainError", "NotFound", "RuleBroken", "Conflict"]


class RuleBroken(DomainError):
    """A policy rule refused; ``code`` is given per instance so each rule keeps its name."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


class Conflict(DomainError):
    kind = "conflict"

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code
