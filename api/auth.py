"""Who is calling, and may they: bearer tokens, roles per view, scope per book.

Order of refusal, for every route under ``/api/v1``: no valid token → 401;
a role the view does not allow → 403; a book in the path that the caller may
not see (or that does not exist) → 404. Only then is the request's input
validated, so that nobody learns anything from validation messages about
resources they may not touch.

Tokens are random (256 bits) and kept only as SHA-256 digests. A token is
looked up by its digest, so the database never compares the token itself, and
the digest found is checked once more with :func:`hmac.compare_digest`: the
time an answer takes tells nothing about how much of a guess was right.

Bad tokens are limited per client address (:class:`TokenFailures`): after
``API_TOKEN_FAILURES`` refused tokens within ``API_TOKEN_WINDOW_SECONDS`` the
address gets 429 for every bearer request, before any token is looked up,
until the window has passed. The count is kept in each worker process's
memory (cheap, nothing written per refusal), so with N workers an address
may try up to N times the limit; with 256-bit tokens the limit is against
noise and load, not a way to make guessing feasible. Behind a reverse proxy,
wrap the app in werkzeug's ``ProxyFix`` so the address is the client's.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_smorest import abort
from sqlalchemy import bindparam, select, true
from sqlalchemy.orm import Session

from ledger.books import Book
from ledger.books.errors import DomainError

from .database import session
from .models import ApiToken, BookAccess, Role, User

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("kehou.api")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOKEN_PREFIX = "kh_"  # noqa: S105 - a prefix, not a secret


class InvalidUser(DomainError):
    code = "invalid_user"


class UserExists(DomainError):
    code = "user_exists"
    kind = "conflict"


def roles(*allowed: Role | str) -> Callable[[F], F]:
    """Declare which roles may call a view method. A view without it answers 403."""
    names = frozenset(Role(r).value for r in allowed)

    def mark(fn: F) -> F:
        fn._kehou_roles = names  # type: ignore[attr-defined]
        return fn

    return mark


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(db: Session, user: User) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10]))
    db.flush()
    return token


def create_user(db: Session, email: str, role: str) -> tuple[User, str]:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 255:
        raise InvalidUser(f"{email!r} is not an email address", field="email")
    try:
        role = Role(role).value
    except ValueError:
        raise InvalidUser(
            f"role must be one of {', '.join(r.value for r in Role)}", field="role"
        ) from None
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserExists(f"a user {email} exists", field="email")
    user = User(email=email, role=role, is_active=True)
    db.add(user)
    db.flush()
    return user, issue_token(db, user)


def revoke_tokens(db: Session, user: User) -> int:
    from ledger.books.models import utcnow

    count = 0
    for token in db.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = utcnow()
        count += 1
    db.flush()
    return count


def user_for_token(db: Session, token: str) -> User | None:
    """The active user of an unrevoked token: looked up by digest, compared in constant time."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    digest = hash_token(token)
    row = db.execute(_TOKEN_USER, {"digest": digest}).first()
    if row is None or not hmac.compare_digest(row[1].encode(), digest.encode()):
        return None
    return row[0]


class TokenFailures:
    """Refused bearer tokens per client address in a sliding window, in this process's memory."""

    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[address]
        return times

    def retry_after(self, address: str, now: float | None = None) -> int | None:
        """Seconds until the address may try again, or None if it is under the limit."""
        if self.limit <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                return None
            return max(1, int(times[-self.limit] + self.window - now) + 1)

    def failed(self, address: str, now: float | None = None) -> None:
        if self.limit <= 0:
            return  # no limit (API_TOKEN_FAILURES=0): nothing to remember
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(address, now)
            if address not in self._seen:
                if len(self._seen) >= self.MAX_ADDRESSES:
                    self._seen.pop(next(iter(self._seen)))
                self._seen[address] = times
            times.append(now)
            while len(times) > self.limit:
                times.popleft()


def current_user() -> User:
    return g.user


def actor() -> str:
    """How the current user is named in posted entries and the audit log."""
    return g.user.email


def visible_book(db: Session, user: User, code: str) -> Book | None:
    """The book ``code`` if the user may see it, else None, in one query (every request on a
    book asks first). Admins and auditors see every book; finance users the books they
    created or were granted and those of their schools and districts; nobody else any."""
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return db.scalar(_BOOK_BY_CODE, {"code": code})
    if user.role == Role.FINANCE:
        return db.scalar(
            _VISIBLE_BOOK_BY_CODE,
            {"code": code, "user_id": user.id, "created_by": f"user:{user.id}"},
        )
    return None


def _visible_to(user_id: Any, created_by: Any) -> Any:
    """The finance rule of :func:`visible_books_filter` for a user id and creator tag, which
    may be values or bound parameters."""
    from ledger.school.models import School

    from .models import UserDistrict, UserSchool

    granted = select(BookAccess.book_id).where(BookAccess.user_id == user_id)
    schools = select(School.book_id).where(
        School.id.in_(select(UserSchool.school_id).where(UserSchool.user_id == user_id))
        | School.district_id.in_(
            select(UserDistrict.district_id).where(UserDistrict.user_id == user_id)
        )
    )
    return (Book.created_by == created_by) | Book.id.in_(granted) | Book.id.in_(schools)


def visible_books_filter(user: User) -> Any:
    """A WHERE clause limiting ``Book`` to what the user may see."""
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return true()
    return _visible_to(user.id, f"user:{user.id}")


# Built once: constructing a statement costs more Python than running it, and these two run
# on every request (the token, then the book in the path).
_TOKEN_USER = (
    select(User, ApiToken.token_hash)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.is_active.is_(True),
    )
    .limit(1)
)
_BOOK_BY_CODE = select(Book).where(Book.code == bindparam("code"))
_VISIBLE_BOOK_BY_CODE = _BOOK_BY_CODE.where(
    _visible_to(bindparam("user_id"), bindparam("created_by"))
)


def _view_roles() -> frozenset[str] | None:
    view = current_app.view_functions.get(request.endpoint or "")
    cls = getattr(view, "view_class", None)
    if cls is not None:
        method = getattr(cls, request.method.lower(), None)
        if method is None and request.method == "HEAD":
            method = getattr(cls, "get", None)
        return getattr(method, "_kehou_roles", None)
    return getattr(view, "_kehou_roles", None)


def _authorize() -> None:
    if not request.path.startswith("/api/v1"):
        return
    if request.endpoint is None or request.method == "OPTIONS":
        return  # 404 / 405 are answered by Flask itself
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(
            401,
            message="a bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": 'Bearer realm="kehou"'},
        )
    failures: TokenFailures = current_app.extensions["kehou_token_failures"]
    address = request.remote_addr or "unknown"
    wait = failures.retry_after(address)
    if wait is not None:
        abort(
            429,
            message=f"too many requests with a bad token from this address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = user_for_token(session(), token.strip())
    if user is None:
        failures.failed(address)
        if failures.retry_after(address) is not None:
            log.warning("api: address %s reached the limit of bad tokens", address)
        abort(
            401,
            message="the token is not valid or was revoked",
            headers={"WWW-Authenticate": 'Bearer realm="kehou", error="invalid_token"'},
        )
    g.user = user
    allowed = _view_roles()
    if allowed is None or user.role not in allowed:
        abort(403, message=f"the {user.role} role may not {request.method} this resource")
    code = (request.view_args or {}).get("book")
    if code is not None:
        book = visible_book(session(), user, code)
        if book is None:
            abort(404, message=f"no book {code!r}")
        g.book = book


def init_app(app: Flask) -> None:
    app.extensions["kehou_token_failures"] = TokenFailures(
        int(app.config.get("API_TOKEN_FAILURES", 30)),
        float(app.config.get("API_TOKEN_WINDOW_SECONDS", 600)),
    )
    app.before_request(_authorize)
