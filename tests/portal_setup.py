"""A billed term with a parent who can log in to the portal, and helpers to drive its forms.

Builds on :func:`term_over_http.billed_term`: school S1, households A (甲家, the
parent's) and B (乙家), each with one invoice of 400.00.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from term_over_http import Term, billed_term

from api.models import User
from api.portal.logins import set_password

PASSWORD = "青草-river-2026"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def portal_term(client: Any, db: Any, tokens: dict[str, str], make_token: Any) -> tuple[Term, str]:
    """The billed term, and the email of household A's parent, who has a portal password."""
    term = billed_term(client, db, tokens, make_token)
    parent = db.get(User, term.parent.get("/api/v1/me").json["id"])
    set_password(db, parent, PASSWORD)
    db.commit()
    return term, parent.email


def user_by_email(db: Any, email: str) -> User:
    return db.scalar(select(User).where(User.email == email))


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def csrf(client: Any, path: str = "/portal/login") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return csrf_from(response.get_data(as_text=True))


def login(client: Any, email: str, password: str = PASSWORD, **kw: Any) -> Any:
    """Post the login form as a browser would (token from the login page)."""
    token = csrf(client)
    return client.post(
        "/portal/login", data={"csrf_token": token, "email": email, "password": password}, **kw
    )


def text(response: Any) -> str:
    return response.get_data(as_text=True)
