"""The portal: server-rendered pages under ``/portal`` for guardians, and the dashboard.

Finance staff, auditors and admins log in on the same page and land on the
dashboard (:mod:`.dashboard`): charts per school and district, each with its
numbers as a table and as CSV.

A plain Flask Blueprint with Jinja templates and one CSS file: no front-end
build and no script. Parents log in with email and password (argon2, see
:mod:`.logins`) and then see only their own households — the same scope
helpers as the JSON API, fed by a session instead of a bearer token, so a
household, invoice or charge of anyone else answers 404.

The JSON API is untouched by all this: bearer tokens are checked only for
``/api/v1`` (``api.auth``), the session cookie is only read here, and CSRF
tokens are required only on the portal's forms (:func:`views.check_csrf`).

Sessions are Flask's signed cookies, so every worker must share one
``KEHOU_SECRET_KEY`` (without it each process draws its own and a session or
form from one worker is refused by the next). The per-address login limit
reads ``request.remote_addr``: behind a reverse proxy, wrap the app in
werkzeug's ``ProxyFix`` so that it is the client's address.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def init_app(app: Flask) -> None:
    """Register the portal and set the session cookie up for it.

    The cookie is HttpOnly and SameSite=Lax always, and Secure unless the app
    is testing — and always with ``KEHOU_ENV=production``, testing or not
    (``PORTAL_COOKIE_SECURE`` overrides, e.g. for a plain-HTTP demo).
    """
    app.config["SESSION_COOKIE_NAME"] = app.config.get("PORTAL_COOKIE_NAME", "kehou_portal")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    secure_by_default = app.config.get("ENV") == "production" or not app.config.get("TESTING")
    app.config["SESSION_COOKIE_SECURE"] = bool(
        app.config.get("PORTAL_COOKIE_SECURE", secure_by_default)
    )
    from . import dashboard, views  # noqa: F401 - register the routes on ``bp``

    app.register_blueprint(bp)
