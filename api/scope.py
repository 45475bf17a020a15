"""What a user may see beyond books: schools, districts and households.

Finance users work on the schools they are linked to, or on every school of a
district they are linked to; parents on their households; auditors and admins
see everything. Anything outside a caller's scope answers 404, as if it did
not exist.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select, union
from sqlalchemy.orm import Session

from ledger.books.errors import NotFound
from ledger.school.models import District, Household, School, Student

from .models import Role, User, UserDistrict, UserHousehold, UserSchool

ALL = None


def school_ids(db: Session, user: User) -> set[int] | None:
    """The schools a user works on; ``None`` means every school."""
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return ALL
    ids = set(db.scalars(select(UserSchool.school_id).where(UserSchool.user_id == user.id)))
    districts = select(UserDistrict.district_id).where(UserDistrict.user_id == user.id)
    ids.update(db.scalars(select(School.id).where(School.district_id.in_(districts))))
    return ids


def _districts_of(user_id: int) -> Any:
    """The districts a user is linked to, directly or through one of their schools."""
    schools = select(UserSchool.school_id).where(UserSchool.user_id == user_id)
    return union(
        select(UserDistrict.district_id).where(UserDistrict.user_id == user_id),
        select(School.district_id).where(School.id.in_(schools)),
    )


def district_ids(db: Session, user: User) -> set[int] | None:
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return ALL
    return set(db.scalars(_districts_of(user.id)))


def household_ids(db: Session, user: User) -> set[int] | None:
    """Households a user may see: parents their own, finance those of their districts."""
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return ALL
    if user.role == Role.PARENT:
        return set(
            db.scalars(select(UserHousehold.household_id).where(UserHousehold.user_id == user.id))
        )
    if user.role == Role.FINANCE:
        districts = district_ids(db, user) or set()
        return set(db.scalars(select(Household.id).where(Household.district_id.in_(districts))))
    return set()


def _within(ids: set[int] | None, value: int) -> bool:
    return ids is ALL or value in ids


def household_visible(db: Session, user: User, household: Household) -> bool:
    """The rule of :func:`household_ids` for one household, in one query: a statement or a
    student lookup must not read every household of the caller's districts."""
    if user.role in (Role.ADMIN, Role.AUDITOR):
        return True
    if user.role == Role.PARENT:
        link = select(UserHousehold.household_id).where(
            UserHousehold.user_id == user.id, UserHousehold.household_id == household.id
        )
        return db.scalar(link) is not None
    if user.role == Role.FINANCE:
        return household.district_id in district_ids(db, user)
    return False


def school_in_scope(db: Session, code: str) -> School:
    school = db.scalar(select(School).where(School.code == code))
    if school is None or not _within(school_ids(db, g.user), school.id):
        raise NotFound(f"no school {code!r}")
    return school


def school_by_id_in_scope(db: Session, school_id: int) -> School:
    school = db.get(School, school_id)
    if school is None or not _within(school_ids(db, g.user), school.id):
        raise NotFound(f"no school {school_id}")
    return school


def district_in_scope(db: Session, code: str) -> District:
    district = db.scalar(select(District).where(District.code == code))
    if district is None or not _within(district_ids(db, g.user), district.id):
        raise NotFound(f"no district {code!r}")
    return district


def district_whole_in_scope(db: Session, code: str) -> District:
    """A district whose every school the caller sees, or 404: for reports over all of a
    district's schools (roll-up, audit, coverage), which a finance user of one school
    may not read; the district's shared lists (vendors, standards) use :func:`district_in_scope`."""
    district = district_in_scope(db, code)
    ids = school_ids(db, g.user)
    if ids is not None:
        schools = set(db.scalars(select(School.id).where(School.district_id == district.id)))
        if not schools <= ids:
            raise NotFound(f"no district {code!r}")
    return district


def household_in_scope(db: Session, household_id: int) -> Household:
    household = db.get(Household, household_id)
    if household is None or not household_visible(db, g.user, household):
        raise NotFound(f"no household {household_id}")
    return household


def student_in_scope(db: Session, student_id: int) -> Student:
    """Finance see their schools' students; parents their households' children."""
    student = db.get(Student, student_id)
    if student is None:
        raise NotFound(f"no student {student_id}")
    if g.user.role == Role.PARENT:
        household = db.get(Household, student.household_id)
        if household is None or not household_visible(db, g.user, household):
            raise NotFound(f"no student {student_id}")
    elif not _within(school_ids(db, g.user), student.school_id):
        raise NotFound(f"no student {student_id}")
    return student


def book_ids_of_schools(db: Session, user: User) -> set[int] | None:
    ids = school_ids(db, user)
    if ids is ALL:
        return ALL
    return set(db.scalars(select(School.book_id).where(School.id.in_(ids)))) if ids else set()
