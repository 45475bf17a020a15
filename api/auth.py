"""Who is calling, and may they: bearer tokens, roles per view, scope per book.

Order of refusal, for every route under ``/api/v1``: no valid token → 401;
a role the view does not allow → 403; a book in the path that the caller may
not see (or that does not exist) → 404. Only then is the request's input
validated, so that nobody learns anything from validation messages about
resources they may not touch.

Tokens are random (256 bits) and kept only as SHA-256 digests; lookup is by
digest, so no token is ever compared character by character.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.books import Book
from ledger.books.errors import DomainError

from .database import session
from .models import ApiToken, BookAccess, Role, User

F = TypeVar("F", bound=Callable[..., Any])
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
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return db.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            User.is_active.is_(True),
        )
    )


def current_user() -> User:
    return g.user


def actor() -> str:
    """How the current user is named in posted entries and the audit log."""
    return g.user.email


def can_see_book(db: Session, user: User, book: Book) -> bool:
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return True
    if user.role == Role.FINANCE:
        if book.created_by == f"user:{user.id}":
            return True
        granted = db.scalar(
            select(BookAccess.book_id).where(
                BookAccess.user_id == user.id, BookAccess.book_id == book.id
            )
        )
        if granted is not None:
            return True
        from .scope import book_ids_of_schools

        return book.id in (book_ids_of_schools(db, user) or set())
    return False


def visible_books_filter(user: User) -> Any:
    """A WHERE clause limiting ``Book`` to what the user may see."""
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return True
    from ledger.school.models import School

    from .models import UserDistrict, UserSchool

    granted = select(BookAccess.book_id).where(BookAccess.user_id == user.id)
    schools = select(School.book_id).where(
        School.id.in_(select(UserSchool.school_id).where(UserSchool.user_id == user.id))
        | School.district_id.in_(
            select(UserDistrict.district_id).where(UserDistrict.user_id == user.id)
        )
    )
    return (Book.created_by == f"user:{user.id}") | Book.id.in_(granted) | Book.id.in_(schools)


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
    user = user_for_token(session(), token.strip())
    if user is None:
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
        book = session().scalar(select(Book).where(Book.code == code))
        if book is None or not can_see_book(session(), user, book):
            abort(404, message=f"no book {code!r}")
        g.book = book


def init_app(app: Flask) -> None:
    app.before_request(_authorize)
