"""The portal's routes: login and logout, the household pages, applications, documents.

Every request runs through three checks before its view: a POST must carry
the form's CSRF token (400 and nothing written otherwise); the session, if
any, must still name an active user of a portal role (``logins.PORTAL_ROLES``)
whose password has not changed since the login and whose login is younger
than ``PORTAL_SESSION_HOURS``; and a view that needs a login redirects to the
login page without one. The household pages are a parent's: for anyone else
they answer 404 (staff have the dashboard, :mod:`.dashboard`). A household,
invoice or charge outside the parent's households answers 404, as in the API.

Writes (logins, failed logins, logouts, applications, the first download of
an invoice's PDF) are recorded in the audit log and committed once, at the
end of the view.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from invoices import archive
from invoices.data import charge_explanation, invoice_data
from invoices.data import statement as statement_data
from ledger.books.errors import DomainError, NotFound
from ledger.money import format_fen
from ledger.school import enrolment
from ledger.school.models import ChargeRecord, Invoice, Programme, School, Student

from .. import audit
from ..database import session as db_session
from ..models import PortalLogin, Role, User
from ..scope import household_ids, household_in_scope
from . import bp, logins, messages, pages
from .forms import ApplicationForm, LoginForm, StatementForm

log = logging.getLogger("kehou.portal")
F = TypeVar("F", bound=Callable[..., Any])
_STATUS_OF_KIND = {"invalid": 422, "conflict": 409, "not_found": 404}


# --------------------------------------------------------------------------- request set-up


def current_lang() -> str:
    lang = session.get("lang")
    return lang if lang in messages.LANGUAGES else messages.DEFAULT


@bp.before_request
def check_csrf() -> None:
    """Refuse a POST without the session's CSRF token before anything reads or writes."""
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            abort(400, description="csrf")


@bp.before_request
def load_user() -> None:
    """``g.user`` from the session, as ``api.auth`` sets it from a token (for ``api.scope``)."""
    g.pop("user", None)
    if request.endpoint == "portal.static" or "uid" not in session:
        return
    db = db_session()
    user = db.get(User, session["uid"])
    login = db.get(PortalLogin, session["uid"]) if user is not None else None
    hours = current_app.config.get("PORTAL_SESSION_HOURS", 8)
    if (
        login is None
        or not user.is_active
        or user.role not in logins.PORTAL_ROLES
        or session.get("pw") != logins.fingerprint(login)
        or time.time() - session.get("since", 0) > hours * 3600
    ):
        _end_session()
        return
    g.user = user


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "portal.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def template_helpers() -> dict[str, Any]:
    lang = current_lang()

    def t(key: str, **values: Any) -> str:
        return messages.translate(key, lang, **values)

    def money(fen: int) -> str:
        return messages.translate("money", lang, amount=format_fen(fen))

    return {
        "t": t,
        "money": money,
        "lang": lang,
        "languages": messages.LANGUAGES,
        "csrf_token": generate_csrf,
        "user": g.user.email if g.get("user") is not None else None,
        "notices": get_flashed_messages(),
    }


def signed_in(view: F) -> F:
    """Any portal user; without a login, to the login page and back here after it."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def login_required(view: F) -> F:
    """A parent's page: signed in, and 404 for staff (who have no households of their own)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user.role != Role.PARENT:
            abort(404)
        return view(*args, **kwargs)

    return signed_in(wrapped)  # type: ignore[return-value]


def _end_session() -> None:
    """Forget who is logged in (and the CSRF token), keeping only the language."""
    lang = current_lang()
    session.clear()
    g.pop("csrf_token", None)
    session["lang"] = lang


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal: never another site (``//evil``) or scheme."""
    if (
        target
        and target.startswith("/portal/")
        and not target.startswith("//")
        and "\\" not in target
        and "://" not in target
    ):
        return target
    return url_for("portal.index")


def _address() -> str:
    return request.remote_addr or "unknown"


def _policy() -> logins.Policy:
    c = current_app.config
    default = logins.Policy()
    return logins.Policy(
        max_failures=int(c.get("PORTAL_MAX_FAILURES", default.max_failures)),
        lock_minutes=int(c.get("PORTAL_LOCK_MINUTES", default.lock_minutes)),
        address_failures=int(c.get("PORTAL_ADDRESS_FAILURES", default.address_failures)),
        address_window_minutes=int(
            c.get("PORTAL_ADDRESS_WINDOW_MINUTES", default.address_window_minutes)
        ),
    )


def _today() -> dt.date:
    return dt.date.today()


# --------------------------------------------------------------------------- errors


def _error_page(status: int, key: str) -> tuple[str, int]:
    return render_template("portal/error.html", status=status, message_key=key), status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if status == 400 and error.description == "csrf":
        return _error_page(400, "error.csrf")
    key = {404: "error.not_found", 405: "error.not_allowed"}.get(status, "error.bad_request")
    return _error_page(status, key if status < 500 else "error.internal")


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Any:
    status = _STATUS_OF_KIND.get(error.kind, 422)
    return _error_page(status, "error.not_found" if status == 404 else "error.bad_request")


@bp.errorhandler(Exception)
def unexpected_error(error: Exception) -> Any:
    if isinstance(error, HTTPException):
        return http_error(error)
    log.exception("portal: unhandled error (request %s)", g.get("request_id"))
    return _error_page(500, "error.internal")


# ------------------------------------------------------------------- login, logout, language


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    lang = current_lang()
    form = LoginForm(request.form if request.method == "POST" else None, lang)
    next_url = request.values.get("next")
    if request.method == "GET":
        if g.get("user") is not None:
            return redirect(_safe_next(next_url))
        return render_template("portal/login.html", form=form, next=next_url, error=None)
    if not form.validate():
        return render_template("portal/login.html", form=form, next=next_url, error=None), 400
    g.pop("user", None)
    db = db_session()
    address = _address()
    outcome = logins.authenticate(
        db, form.email.data, form.password.data, address=address, policy=_policy()
    )
    if outcome.throttled:
        db.rollback()
        page = render_template(
            "portal/login.html", form=form, next=next_url, error="login.throttled"
        )
        return page, 429
    if outcome.user is None:
        audit.record(
            db,
            logins.FAILED,
            logins.address_target(address),
            {"reason": outcome.reason, "account": outcome.account},
            actor="portal:anonymous",
        )
        db.commit()
        page = render_template("portal/login.html", form=form, next=next_url, error="login.failed")
        return page, 401
    user = outcome.user
    login_row = db.get(PortalLogin, user.id)
    audit.record(db, "portal.login", f"user:{user.id}", actor=user.email, user_id=user.id)
    db.commit()
    _end_session()  # a new session at login: nothing from before it carries over but the language
    session["uid"] = user.id
    session["pw"] = logins.fingerprint(login_row)
    session["since"] = int(time.time())
    return redirect(_safe_next(next_url))


@bp.post("/logout")
def logout() -> Any:
    user = g.get("user")
    if user is not None:
        db = db_session()
        audit.record(db, "portal.logout", f"user:{user.id}")
        db.commit()
    _end_session()
    return redirect(url_for("portal.login"))


@bp.post("/language")
def language() -> Any:
    """Switch the pages' language (kept in the session, also before login)."""
    chosen = request.form.get("lang")
    if chosen in messages.LANGUAGES:
        session["lang"] = chosen
    return redirect(_safe_next(request.form.get("next")))


# --------------------------------------------------------------------------- pages


@bp.get("/")
@signed_in
def index() -> Any:
    if g.user.role != Role.PARENT:
        return redirect(url_for("portal.dashboard"))
    db = db_session()
    ids = household_ids(db, g.user) or set()
    overviews = [pages.overview(db, h, today=_today()) for h in pages.households(db, ids)]
    return render_template("portal/overview.html", households=overviews, single=False)


@bp.get("/households/<int:household_id>")
@login_required
def household(household_id: int) -> Any:
    db = db_session()
    h = household_in_scope(db, household_id)
    overview = pages.overview(db, h, today=_today())
    return render_template("portal/overview.html", households=[overview], single=True)


@bp.get("/households/<int:household_id>/invoices")
@login_required
def invoices(household_id: int) -> Any:
    db = db_session()
    h = household_in_scope(db, household_id)
    return render_template(
        "portal/invoices.html",
        household={"id": h.id, "name": h.name},
        invoices=pages.invoices(db, h.id),
    )


def _invoice_in_scope(school: str, number: str) -> Invoice:
    db = db_session()
    s = db.scalar(select(School).where(School.code == school))
    invoice = (
        db.scalar(select(Invoice).where(Invoice.school_id == s.id, Invoice.number == number))
        if s is not None
        else None
    )
    if invoice is None:
        raise NotFound(f"no invoice {number}")
    household_in_scope(db, invoice.household_id)
    return invoice


@bp.get("/invoices/<school>/<number>")
@login_required
def invoice(school: str, number: str) -> Any:
    inv = _invoice_in_scope(school, number)
    return render_template("portal/invoice.html", invoice=pages.invoice_detail(db_session(), inv))


@bp.get("/charges/<int:charge_id>")
@login_required
def charge(charge_id: int) -> Any:
    """Why this amount: the standard, shares, waivers and proration behind one charge."""
    db = db_session()
    record = db.get(ChargeRecord, charge_id)
    if record is None:
        raise NotFound(f"no charge {charge_id}")
    household_in_scope(db, record.household_id)
    return render_template("portal/charge.html", x=charge_explanation(db, record))


@bp.get("/households/<int:household_id>/statement")
@login_required
def statement(household_id: int) -> Any:
    db = db_session()
    h = household_in_scope(db, household_id)
    form = StatementForm(request.args, current_lang())
    if not form.validate():
        page = render_template(
            "portal/statement.html", household={"id": h.id, "name": h.name}, form=form, s=None
        )
        return page, 400
    start, end = form.dates(_today())
    data = statement_data(db, h.id, start, end)
    return render_template(
        "portal/statement.html",
        household={"id": h.id, "name": h.name},
        form=form,
        s=data,
        start=start,
        end=end,
    )


@bp.route("/households/<int:household_id>/applications", methods=["GET", "POST"])
@login_required
def applications(household_id: int) -> Any:
    """The household's applications and their review status; apply for a programme."""
    db = db_session()
    h = household_in_scope(db, household_id)
    form = ApplicationForm(request.form if request.method == "POST" else None, current_lang())
    error = None
    status = 200
    if request.method == "POST":
        if not form.validate():
            error, status = "apply.invalid", 400
        else:
            student = db.get(Student, form.student.data)
            programme = db.get(Programme, form.programme.data)
            if student is None or student.household_id != h.id:
                raise NotFound(f"no student {form.student.data}")
            if programme is None or programme.school_id != student.school_id:
                raise NotFound(f"no programme {form.programme.data} at the student's school")
            try:
                application = enrolment.apply(
                    db,
                    student,
                    programme,
                    applied_by=g.user.email,
                    start_date=form.start_date.data,
                )
            except DomainError as exc:
                db.rollback()
                error = messages.rule_key(exc.code)
                status = _STATUS_OF_KIND.get(exc.kind, 422)
            else:
                audit.record(
                    db, "application.create", f"application:{application.id}", {"via": "portal"}
                )
                db.commit()
                flash("apply.done")
                return redirect(url_for("portal.applications", household_id=h.id))
    page = render_template(
        "portal/applications.html",
        household={"id": h.id, "name": h.name},
        applications=pages.applications(db, h.id),
        choices=pages.apply_choices(db, h.id, today=_today()),
        form=form,
        error=error,
    )
    return page, status


@bp.get("/invoices/<school>/<number>.pdf")
@login_required
def invoice_pdf(school: str, number: str) -> Any:
    """The fee notice as issued, in the page's language: the same bytes as the API's PDF.

    The first download issues it into the archive (``invoices.archive``, with
    an audit line, committed); every later one, here or through the API,
    returns the stored bytes.
    """
    inv = _invoice_in_scope(school, number)
    db = db_session()
    s = db.get(School, inv.school_id)
    source, lang = f"invoice:{inv.id}", current_lang()
    document = archive.find_issued(db, s, "invoice", source, lang)
    if document is None:
        document = archive.issue(
            db,
            s,
            "invoice",
            source,
            lang,
            lambda: invoice_data(db, inv),
            actor=g.user.email,
            household_id=inv.household_id,
        )
        audit.record(
            db,
            "document.issue",
            f"school:{s.code}/invoice:{document.number or document.id}",
            {"source": source, "language": lang, "sha256": document.sha256, "via": "portal"},
        )
        db.commit()
    response = Response(document.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{inv.number}.pdf"'
    response.headers["X-Content-SHA256"] = document.sha256
    return response
