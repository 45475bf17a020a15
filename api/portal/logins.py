"""Portal logins: argon2 password hashes, the password rules, and login throttling.

Parents log in to see their households; finance staff, auditors and admins
log in with the same page to see the dashboard (:data:`PORTAL_ROLES`;
teachers have no portal login yet). A password is kept only as an argon2id
hash (``portal_logins``). Two limits slow down guessing, and both live in the
database so that every gunicorn worker sees the same counts:

* **per account** — after ``max_failures`` wrong passwords in a row the
  account is locked for ``lock_minutes``; while it is locked even the right
  password is refused (and not checked), so guessing gains nothing;
* **per client address** — after ``address_failures`` failed logins from one
  address within ``address_window_minutes``, that address is refused without
  any password being checked. Failed logins are written to the audit log with
  the address as their target (``ip:<address>``), which is both the record an
  auditor wants and the count this limit reads, with no table of its own.

A refusal never says whether the email exists: an unknown email, a wrong
password, a locked account and a user who may not use the portal all give
the same :class:`Outcome` to the caller's page (the audit line keeps the
reason), and an unknown email still costs one argon2 verification so the
answer takes as long.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger.books.errors import DomainError
from ledger.books.models import utcnow

from ..models import AuditRecord, PortalLogin, Role, User

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_DISTINCT = 5
#: Passwords that pass the length rule and are still the first ones guessed.
COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "1qaz2wsx3edc",
        "qwertyuiop",
        "password123",
        "password1234",
        "abc1234567",
        "a1234567890",
        "woaini1314",
        "iloveyou123",
        "admin12345",
    }
)

FAILED = "portal.login_failed"
_hasher = PasswordHasher()
#: Verified against when the email is unknown, so that the answer takes as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class WeakPassword(DomainError):
    """A password the portal refuses; ``code`` names the rule (``password_too_short`` …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, field="password")
        self.code = code


#: The roles that may have a portal login and use it.
PORTAL_ROLES = frozenset({Role.PARENT, Role.FINANCE, Role.AUDITOR, Role.ADMIN})


class NoPortalForRole(DomainError):
    code = "portal_login_role_not_allowed"


@dataclass(frozen=True)
class Policy:
    """How many failures lock an account or an address, and for how long."""

    max_failures: int = 5
    lock_minutes: int = 15
    address_failures: int = 20
    address_window_minutes: int = 15


@dataclass(frozen=True)
class Outcome:
    """The result of a login attempt.

    ``user`` is set only on success. ``throttled`` means the client address is
    over its limit (nothing was checked). ``reason`` and ``account`` are for
    the audit line only, never for the page.
    """

    user: User | None
    throttled: bool = False
    reason: str | None = None
    account: int | None = None


def check_password_rules(password: str, email: str) -> None:
    """Refuse a password that is too short, too long, too simple or built from the email."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            "password_too_short", f"the password must have at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(
            "password_too_long", f"the password must have at most {MAX_LENGTH} characters"
        )
    if len(set(password)) < MIN_DISTINCT or password.lower() in COMMON:
        raise WeakPassword(
            "password_too_simple",
            f"the password is too easy to guess: use at least {MIN_DISTINCT} different "
            "characters and avoid common passwords",
        )
    local = email.split("@", 1)[0].lower()
    if len(local) >= 3 and local in password.lower():
        raise WeakPassword(
            "password_contains_email", "the password must not contain the email's name"
        )


def set_password(db: Session, user: User, password: str) -> tuple[PortalLogin, bool]:
    """Create or replace a user's portal password; returns the login and whether it is new.

    Replacing a password also lifts a lock and ends every portal session of
    the user (sessions carry a fingerprint of the hash they logged in with).
    """
    if user.role not in PORTAL_ROLES:
        roles = ", ".join(sorted(PORTAL_ROLES))
        raise NoPortalForRole(
            f"only {roles} users may have a portal login; {user.email} is {user.role}",
            field="user",
        )
    check_password_rules(password, user.email)
    login = db.get(PortalLogin, user.id)
    created = login is None
    if login is None:
        login = PortalLogin(user_id=user.id)
        db.add(login)
    login.password_hash = _hasher.hash(password)
    login.failed_attempts = 0
    login.locked_until = None
    login.updated_at = utcnow()
    db.flush()
    return login, created


def fingerprint(login: PortalLogin) -> str:
    """A short digest of the password hash, kept in the session: a new password ends it."""
    return hashlib.sha256(login.password_hash.encode()).hexdigest()[:16]


def address_failures(db: Session, address: str, *, since: dt.datetime) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(
                AuditRecord.at >= since,
                AuditRecord.action == FAILED,
                AuditRecord.target == address_target(address),
            )
        )
        or 0
    )


def address_target(address: str) -> str:
    return f"ip:{address}"[:200]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    db: Session,
    email: str,
    password: str,
    *,
    address: str,
    policy: Policy,
    now: dt.datetime | None = None,
) -> Outcome:
    """Check a login attempt and update the account's failure count; flushes, never commits."""
    now = now or utcnow()
    since = now - dt.timedelta(minutes=policy.address_window_minutes)
    if address_failures(db, address, since=since) >= policy.address_failures:
        return Outcome(None, throttled=True, reason="address_limit")
    email = (email or "").strip().lower()
    user = db.scalar(select(User).where(User.email == email)) if email else None
    login = db.get(PortalLogin, user.id) if user is not None else None
    if login is None or not user.is_active or user.role not in PORTAL_ROLES:
        _verify(_DUMMY_HASH, password)
        return Outcome(None, reason="unknown", account=user.id if user else None)
    if login.locked_until is not None and login.locked_until > now:
        _verify(_DUMMY_HASH, password)
        return Outcome(None, reason="locked", account=user.id)
    if not _verify(login.password_hash, password):
        _count_failure(db, login, policy, now)
        return Outcome(None, reason="bad_password", account=user.id)
    login.failed_attempts = 0
    login.locked_until = None
    if _hasher.check_needs_rehash(login.password_hash):
        login.password_hash = _hasher.hash(password)
        login.updated_at = now
    db.flush()
    return Outcome(user, account=user.id)


def _count_failure(db: Session, login: PortalLogin, policy: Policy, now: dt.datetime) -> None:
    """Add one failure in the database itself (two workers cannot both read the old count)."""
    count = db.execute(
        update(PortalLogin)
        .where(PortalLogin.user_id == login.user_id)
        .values(failed_attempts=PortalLogin.failed_attempts + 1)
        .returning(PortalLogin.failed_attempts)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    if count >= policy.max_failures:
        db.execute(
            update(PortalLogin)
            .where(PortalLogin.user_id == login.user_id)
            .values(failed_attempts=0, locked_until=now + dt.timedelta(minutes=policy.lock_minutes))
            .execution_options(synchronize_session=False)
        )
    db.expire(login)
