"""Explain a charge: why it is what it is, the consent behind it, and what it posted.

For one charge: the approved standard and cost-sharing policy, the calculation,
the shares, waivers and credits (what the portal's "why this amount" page
shows), the application behind the enrolment (who applied or the written
application's reference, the class review and the school's approval, each with
when), and the journal entry it posted with every posting. For a charge entry
of a book: the explanations of the charges it posted.

Parents read the charges of their own households only; a charge of another
household, or of another school than the path names, answers 404 as if it did
not exist. Finance reads the charges of their schools; auditors and admins all.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from sqlalchemy import select

from invoices import data
from ledger.books import Entry
from ledger.books.errors import NotFound
from ledger.school.errors import RuleBroken
from ledger.school.models import ChargeRecord, School

from ..auth import roles
from ..database import session
from ..explanation_schemas import ChargeExplanationOut, EntryExplanationOut
from ..models import Role
from ..scope import household_in_scope, school_in_scope
from . import Blueprint

blp = Blueprint(
    "explanations",
    __name__,
    url_prefix="/api/v1",
    description="Explain a charge: standard, policy, shares, consent and postings",
)

READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)


def _charge_in_scope(school: str, charge_id: int) -> ChargeRecord:
    """The charge of that school: parents by household, everyone else by school."""
    db = session()
    s = db.scalar(select(School).where(School.code == school))
    charge = db.get(ChargeRecord, charge_id) if s is not None else None
    if charge is None or charge.school_id != s.id:
        raise NotFound(f"no charge {charge_id} at school {school}")
    if g.user.role == Role.PARENT:
        try:
            household_in_scope(db, charge.household_id)
        except NotFound:
            raise NotFound(f"no charge {charge_id} at school {school}") from None
    else:
        school_in_scope(db, school)
    return charge


@blp.route("/schools/<school>/charges/<int:charge_id>/explanation")
class ChargeExplanation(MethodView):
    @roles(*READERS, Role.PARENT)
    @blp.response(200, ChargeExplanationOut)
    def get(self, school: str, charge_id: int) -> dict[str, Any]:
        """Why a charge is what it is, and where it came from and went to.

        The approved fee standard (authority, document number, validity), the
        cost-sharing policy, the calculation (unit cost, units, proration, the one
        rounding), each payer's share, waivers with their reasons, credits since;
        the application behind the enrolment (who applied, or the reference of a
        written application, the class review and the school's approval, with
        when); and the journal entry the charge posted, with its postings (signed:
        debit positive), which sum to zero. Parents see their own households'
        charges only.
        """
        charge = _charge_in_scope(school, charge_id)
        return data.charge_explanation(session(), charge)


@blp.route("/books/<book>/entries/<int:entry_id>/explanation")
class EntryExplanation(MethodView):
    @roles(*READERS)
    @blp.response(200, EntryExplanationOut)
    def get(self, book: str, entry_id: int) -> dict[str, Any]:
        """The explanation of a charge entry: the entry with its postings, and the
        explanation of every charge it posted.

        An entry of another kind is refused with ``not_a_charge_entry`` (422); a charge
        entry that no billing recorded (posted by hand) with ``charge_not_recorded`` (422),
        which the audit rule ``charge_without_consent`` also reports.
        """
        db = session()
        entry = db.scalar(select(Entry).where(Entry.book_id == g.book.id, Entry.id == entry_id))
        if entry is None:
            raise NotFound(f"no entry {entry_id} in book {book!r}")
        if entry.kind != "charge":
            raise RuleBroken(
                "not_a_charge_entry",
                f"entry {entry_id} is a {entry.kind} entry; only charge entries are explained",
            )
        charges = list(
            db.scalars(
                select(ChargeRecord)
                .where(ChargeRecord.entry_id == entry.id)
                .order_by(ChargeRecord.id)
            )
        )
        if not charges:
            raise RuleBroken(
                "charge_not_recorded",
                f"charge entry {entry_id} has no charge record behind it: it was not posted "
                "by billing",
            )
        return {
            "entry": data.entry_data(db, entry.id),
            "charges": [data.charge_explanation(db, c) for c in charges],
        }
