"""Linking users to what they may act on: finance to schools or districts, parents to households,
teachers to their own staff record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger.books.errors import DomainError, NotFound
from ledger.school.models import District, Household, School, StaffMember

from .models import Role, User, UserDistrict, UserHousehold, UserSchool, UserStaff


class LinkRefused(DomainError):
    code = "link_role_mismatch"


def _targets(
    db: Session,
    school: str | None,
    district: str | None,
    household: int | None,
    staff: int | None = None,
):
    given = [x is not None for x in (school, district, household, staff)]
    if sum(given) != 1:
        raise DomainError(
            "name exactly one of school, district, household or staff", field="school"
        )
    if staff is not None:
        member = db.get(StaffMember, staff)
        if member is None:
            raise DomainError(f"no staff member {staff}", field="staff")
        return UserStaff, {"staff_id": member.id}, (Role.TEACHER,)
    if school is not None:
        s = db.scalar(select(School).where(School.code == school))
        if s is None:
            raise DomainError(f"no school {school!r}", field="school")
        return UserSchool, {"school_id": s.id}, (Role.FINANCE, Role.TEACHER)
    if district is not None:
        d = db.scalar(select(District).where(District.code == district))
        if d is None:
            raise DomainError(f"no district {district!r}", field="district")
        return UserDistrict, {"district_id": d.id}, (Role.FINANCE,)
    h = db.get(Household, household)
    if h is None:
        raise DomainError(f"no household {household}", field="household")
    return UserHousehold, {"household_id": h.id}, (Role.PARENT,)


def link(
    db: Session,
    user: User,
    *,
    school: str | None = None,
    district: str | None = None,
    household: int | None = None,
    staff: int | None = None,
) -> None:
    model, key, allowed = _targets(db, school, district, household, staff)
    if user.role not in allowed:
        what = {UserSchool: "school", UserDistrict: "district", UserHousehold: "household"}
        raise LinkRefused(
            f"a {user.role} user cannot be linked to a {what.get(model, 'staff member')}"
        )
    exists = db.scalar(select(model).filter_by(user_id=user.id, **key))
    if exists is None:
        db.add(model(user_id=user.id, **key))
        db.flush()


def unlink(
    db: Session,
    user: User,
    *,
    school: str | None = None,
    district: str | None = None,
    household: int | None = None,
    staff: int | None = None,
) -> int:
    model, key, _ = _targets(db, school, district, household, staff)
    result = db.execute(delete(model).filter_by(user_id=user.id, **key))
    db.flush()
    return result.rowcount or 0


def links_of(db: Session, user: User) -> dict[str, Any]:
    return {
        "user": user.id,
        "schools": list(
            db.scalars(
                select(School.code)
                .join(UserSchool, UserSchool.school_id == School.id)
                .where(UserSchool.user_id == user.id)
                .order_by(School.code)
            )
        ),
        "districts": list(
            db.scalars(
                select(District.code)
                .join(UserDistrict, UserDistrict.district_id == District.id)
                .where(UserDistrict.user_id == user.id)
                .order_by(District.code)
            )
        ),
        "households": list(
            db.scalars(
                select(UserHousehold.household_id)
                .where(UserHousehold.user_id == user.id)
                .order_by(UserHousehold.household_id)
            )
        ),
        "staff": list(
            db.scalars(
                select(UserStaff.staff_id)
                .where(UserStaff.user_id == user.id)
                .order_by(UserStaff.staff_id)
            )
        ),
    }


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user
