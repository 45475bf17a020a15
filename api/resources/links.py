"""Admin endpoints linking users to schools, districts and households."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from .. import audit
from ..auth import roles
from ..database import session
from ..links import get_user, link, links_of, unlink
from ..models import Role
from ..schemas import Strict
from . import Blueprint

blp = Blueprint("links", __name__, url_prefix="/api/v1", description="User scopes")


class LinkIn(Strict):
    school = fields.String(load_default=None)
    district = fields.String(load_default=None)
    household = fields.Integer(load_default=None)
    staff = fields.Integer(load_default=None, metadata={"description": "a teacher's own record"})


class LinksOut(Schema):
    user = fields.Integer()
    schools = fields.List(fields.String())
    districts = fields.List(fields.String())
    households = fields.List(fields.Integer())
    staff = fields.List(fields.Integer())


@blp.route("/users/<int:user_id>/links")
class Links(MethodView):
    @roles(Role.ADMIN)
    @blp.response(200, LinksOut)
    def get(self, user_id: int) -> dict[str, Any]:
        return links_of(session(), get_user(session(), user_id))

    @roles(Role.ADMIN)
    @blp.arguments(LinkIn)
    @blp.response(200, LinksOut)
    def post(self, data: dict[str, Any], user_id: int) -> dict[str, Any]:
        """Link a finance user to a school or district, or a parent to a household."""
        user = get_user(session(), user_id)
        link(session(), user, **data)
        audit.commit("user.link", f"user:{user.id}", {k: v for k, v in data.items() if v})
        return links_of(session(), user)


@blp.route("/users/<int:user_id>/links/remove")
class Unlink(MethodView):
    @roles(Role.ADMIN)
    @blp.arguments(LinkIn)
    @blp.response(200, LinksOut)
    def post(self, data: dict[str, Any], user_id: int) -> dict[str, Any]:
        user = get_user(session(), user_id)
        unlink(session(), user, **data)
        audit.commit("user.unlink", f"user:{user.id}", {k: v for k, v in data.items() if v})
        return links_of(session(), user)
