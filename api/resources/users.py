"""Users and their tokens (admins), the caller's own identity, and the audit log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from .. import audit
from ..auth import create_user, current_user, issue_token, revoke_tokens, roles
from ..database import session
from ..models import AuditRecord, Role, User
from ..schemas import (
    AuditPage,
    ListArgs,
    RevokedOut,
    TokenOut,
    UserIn,
    UserOut,
    UserPage,
)
from . import Blueprint
from .books import _page, page_cursor

blp = Blueprint("users", __name__, url_prefix="/api/v1", description="Users, tokens, audit log")

EVERYONE = tuple(Role)


def _user(user_id: int) -> User:
    user = session().get(User, user_id)
    if user is None:
        from ledger.books.errors import NotFound

        raise NotFound(f"no user {user_id}")
    return user


@blp.route("/me")
class Me(MethodView):
    @roles(*EVERYONE)
    @blp.response(200, UserOut)
    def get(self) -> User:
        """Who the token belongs to."""
        return current_user()


@blp.route("/users")
class Users(MethodView):
    @roles(Role.ADMIN)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, UserPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        q = select(User).order_by(User.id)
        cursor = page_cursor(args, int)
        if cursor is not None:
            q = q.where(User.id > cursor)
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda u: u.id)

    @roles(Role.ADMIN)
    @blp.arguments(UserIn)
    @blp.response(201, TokenOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a user; the response holds their first token, shown only this once."""
        user, token = create_user(session(), data["email"], data["role"])
        audit.commit("user.create", f"user:{user.id}", {"role": user.role})
        return {"user": user, "token": token}


@blp.route("/users/<int:user_id>/tokens")
class Tokens(MethodView):
    @roles(Role.ADMIN)
    @blp.response(201, TokenOut)
    def post(self, user_id: int) -> dict[str, Any]:
        """Issue a new token for a user (their other tokens stay valid)."""
        user = _user(user_id)
        token = issue_token(session(), user)
        audit.commit("token.issue", f"user:{user.id}")
        return {"user": user, "token": token}


@blp.route("/users/<int:user_id>/revoke")
class Revoke(MethodView):
    @roles(Role.ADMIN)
    @blp.response(200, RevokedOut)
    def post(self, user_id: int) -> dict[str, Any]:
        """Revoke every token of a user."""
        user = _user(user_id)
        count = revoke_tokens(session(), user)
        audit.commit("token.revoke", f"user:{user.id}", {"revoked": count})
        return {"user": user, "revoked": count}


@blp.route("/audit-log")
class AuditLog(MethodView):
    @roles(Role.AUDITOR, Role.ADMIN)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, AuditPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every write, newest first."""
        q = select(AuditRecord).order_by(AuditRecord.id.desc())
        cursor = page_cursor(args, int)
        if cursor is not None:
            q = q.where(AuditRecord.id < cursor)
        rows = list(session().scalars(q.limit(args["limit"] + 1)))
        return _page(rows, args["limit"], lambda r: r.id)
