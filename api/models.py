"""Tables the API keeps beside the books: users, hashed tokens, book access, the audit log."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.books.models import utcnow
from ledger.books.orm import Base, BigId


class Role(enum.StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    AUDITOR = "auditor"
    PARENT = "parent"
    TEACHER = "teacher"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    __table_args__ = (
        CheckConstraint(
            "role IN ({})".format(", ".join(f"'{r.value}'" for r in Role)), name="role_known"
        ),
    )


class ApiToken(Base):
    """A bearer token, kept only as its SHA-256 (tokens carry 256 bits of randomness)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the token, to tell tokens apart in listings.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    user: Mapped[User] = relationship(back_populates="tokens")


class BookAccess(Base):
    """Which finance users work on which books (until schools scope them)."""

    __tablename__ = "book_access"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"), primary_key=True)


class AuditRecord(Base):
    """One write: who, what, when, and the request it came in."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_log_at", "at"),)


class UserSchool(Base):
    """A finance (or teacher) user's schools."""

    __tablename__ = "user_schools"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)


class UserDistrict(Base):
    """A district finance user: every school of the district is in scope."""

    __tablename__ = "user_districts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)


class UserHousehold(Base):
    """A parent user's households."""

    __tablename__ = "user_households"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)


class PortalLogin(Base):
    """A parent's password for the portal (argon2 hash), and the count of recent failures."""

    __tablename__ = "portal_logins"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)


class UserStaff(Base):
    """A teacher user's own staff record: they may read their own hours and payout sheets."""

    __tablename__ = "user_staff"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), primary_key=True)
