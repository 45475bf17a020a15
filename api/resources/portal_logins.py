"""Portal logins, set by an admin: ``POST /api/v1/users/{id}/portal-login``.

Parents use theirs for their households' pages; finance staff, auditors and
admins for the dashboard (``api.portal.dashboard``).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from .. import audit
from ..auth import roles
from ..database import session
from ..links import get_user
from ..models import Role
from ..portal.logins import MAX_LENGTH, MIN_LENGTH, set_password
from ..schemas import Strict, UtcDateTime
from . import Blueprint

blp = Blueprint("portal_logins", __name__, url_prefix="/api/v1", description="Portal logins")


class PortalLoginIn(Strict):
    password = fields.String(
        required=True,
        load_only=True,
        # The length rules are checked by the portal's password rules (422 with their code);
        # this bound only keeps absurd bodies away from argon2.
        validate=validate.Length(max=4096),
        metadata={
            "description": f"{MIN_LENGTH} to {MAX_LENGTH} characters, at least 5 different, "
            "not a common password and not containing the email's name"
        },
    )


class PortalLoginOut(Schema):
    user = fields.Integer()
    email = fields.String()
    created = fields.Boolean(metadata={"description": "false when a password was replaced"})
    updated_at = UtcDateTime()


@blp.route("/users/<int:user_id>/portal-login")
class PortalLogin(MethodView):
    @roles(Role.ADMIN)
    @blp.arguments(PortalLoginIn)
    @blp.response(200, PortalLoginOut)
    def post(self, data: dict[str, Any], user_id: int) -> dict[str, Any]:
        """Create or replace a user's portal password (argon2-hashed; never stored as text).

        Replacing it also lifts a lockout and ends the user's portal sessions.
        Parents, finance staff, auditors and admins may have one (parents see
        their households, the others the dashboard); a teacher is refused with
        422 ``portal_login_role_not_allowed``; a weak password is refused with
        422 and the rule's code (``password_too_short``, ``password_too_simple`` …).
        """
        user = get_user(session(), user_id)
        login, created = set_password(session(), user, data["password"])
        audit.commit("portal_login.set", f"user:{user.id}", {"created": created})
        return {
            "user": user.id,
            "email": user.email,
            "created": created,
            "updated_at": login.updated_at,
        }
