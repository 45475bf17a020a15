"""Government subsidy claims (财政补贴申报), receipts against them, and reconciliation.

A claim is a document, not an entry: the government's share was posted to
its receivable ``1123.<district>`` when billing ran. A claim lists, for a
school and a period, every charge whose billing period starts inside it with
the government's share of that charge *now* — as charged, less what credits
(withdrawals, absences, cancellations) gave back, plus waived parent shares
the government took over after billing. A charge is claimed at most once.

A receipt from the government against a claim clears the receivable::

    Dr 1002               Bank                              amount
    Cr 1123.<district>    Receivable: government subsidy    amount

Partial receipts are allowed; together they never exceed what was claimed.

Reconciliation compares, per claim and per school, what was claimed, what
has been received and what is outstanding, and lists per student where the
government's share today differs from what was claimed (a student withdrew
after the claim, a waiver moved a share to the government, an invoice was
cancelled and reissued), and the shares not claimed yet.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import books

from .billing import next_number
from .errors import NotFound, RuleBroken
from .models import (
    ChargeRecord,
    CreditRecord,
    District,
    Enrolment,
    School,
    Student,
    SubsidyClaim,
    SubsidyClaimLine,
    SubsidyReceipt,
)
from .payments import SCHOOL_BANK, replayed_row
from .structure import funder_account

__all__ = [
    "ClaimReconciliation",
    "SchoolReconciliation",
    "StudentDifference",
    "claim_lines",
    "create_claim",
    "get_claim",
    "government_share_now",
    "reconcile_claim",
    "reconcile_school",
    "record_subsidy_receipt",
]


def government_share_now(db: Session, school: School) -> dict[int, int]:
    """Each of the school's charges (by id) mapped to the government's share of it today."""
    shares: dict[int, int] = {}
    cover: dict[int, str] = {}
    for charge_id, government, waiver, waiver_cover in db.execute(
        select(
            ChargeRecord.id, ChargeRecord.government, ChargeRecord.waiver, ChargeRecord.waiver_cover
        ).where(ChargeRecord.school_id == school.id)
    ):
        shares[charge_id] = government + (waiver if waiver_cover == "government" else 0)
        cover[charge_id] = waiver_cover
    for charge_id, reason, government, household in db.execute(
        select(
            CreditRecord.charge_id,
            CreditRecord.reason,
            func.sum(CreditRecord.government),
            func.sum(CreditRecord.household),
        )
        .join(ChargeRecord, ChargeRecord.id == CreditRecord.charge_id)
        .where(ChargeRecord.school_id == school.id)
        .group_by(CreditRecord.charge_id, CreditRecord.reason)
    ):
        if reason == "waiver":
            if cover[charge_id] == "government":
                shares[charge_id] += int(household)
        else:
            shares[charge_id] -= int(government)
    return shares


def _student_of_charges(db: Session, school: School) -> dict[int, tuple[int, str]]:
    return {
        charge_id: (student_id, name)
        for charge_id, student_id, name in db.execute(
            select(ChargeRecord.id, Student.id, Student.name)
            .join(Enrolment, Enrolment.id == ChargeRecord.enrolment_id)
            .join(Student, Student.id == Enrolment.student_id)
            .where(ChargeRecord.school_id == school.id)
        )
    }


def create_claim(
    db: Session,
    school: School,
    *,
    period_start: dt.date,
    period_end: dt.date,
    claimed_on: dt.date,
    actor: str,
) -> SubsidyClaim:
    """Claim the government's share of the school's charges for a period.

    Every charge whose billing period starts between ``period_start`` and
    ``period_end``, not claimed before, with a government share today above
    zero, becomes a line (student and amount). The claim is numbered
    ``<school>-SC-<year>-<nnnn>``, gap-free per school and year of
    ``claimed_on``. Nothing is posted. Refused: ``invalid_period`` and
    ``nothing_to_claim``.
    """
    if period_end < period_start:
        raise RuleBroken("invalid_period", f"{period_end} is before {period_start}", field="end")
    claimed = set(
        db.scalars(
            select(SubsidyClaimLine.charge_id)
            .join(SubsidyClaim, SubsidyClaim.id == SubsidyClaimLine.claim_id)
            .where(SubsidyClaim.school_id == school.id)
        )
    )
    in_period = list(
        db.scalars(
            select(ChargeRecord.id)
            .where(
                ChargeRecord.school_id == school.id,
                ChargeRecord.period_start >= period_start,
                ChargeRecord.period_start <= period_end,
            )
            .order_by(ChargeRecord.id)
        )
    )
    shares = government_share_now(db, school)
    students = _student_of_charges(db, school)
    lines = [
        (charge_id, students[charge_id][0], shares[charge_id])
        for charge_id in in_period
        if charge_id not in claimed and shares[charge_id] > 0
    ]
    if not lines:
        raise RuleBroken(
            "nothing_to_claim",
            f"no unclaimed government share at school {school.code} for "
            f"{period_start}–{period_end}",
            field="period",
        )
    district = db.get(District, school.district_id)
    seq = next_number(db, school, "subsidy_claim", claimed_on.year)
    claim = SubsidyClaim(
        school_id=school.id,
        number=f"{school.code}-SC-{claimed_on.year}-{seq:04d}",
        period_start=period_start,
        period_end=period_end,
        funder_account=funder_account(district),
        amount=sum(amount for _, _, amount in lines),
        status="submitted",
        claimed_on=claimed_on,
        created_by=actor,
    )
    db.add(claim)
    db.flush()
    db.add_all(
        SubsidyClaimLine(claim_id=claim.id, charge_id=c, student_id=s, amount=a)
        for c, s, a in lines
    )
    db.flush()
    return claim


def get_claim(db: Session, school: School, claim_id: int) -> SubsidyClaim:
    claim = db.get(SubsidyClaim, claim_id)
    if claim is None or claim.school_id != school.id:
        raise NotFound(f"no subsidy claim {claim_id} at school {school.code}")
    return claim


def claim_lines(db: Session, claim: SubsidyClaim) -> list[SubsidyClaimLine]:
    return list(
        db.scalars(
            select(SubsidyClaimLine)
            .where(SubsidyClaimLine.claim_id == claim.id)
            .order_by(SubsidyClaimLine.id)
        )
    )


def received_on_claim(db: Session, claim: SubsidyClaim) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(SubsidyReceipt.amount), 0)).where(
                SubsidyReceipt.claim_id == claim.id
            )
        )
    )


def record_subsidy_receipt(
    db: Session,
    claim: SubsidyClaim,
    *,
    amount: int,
    received_on: dt.date,
    actor: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> SubsidyReceipt:
    """Money from the government against a claim: ``Dr 1002 / Cr 1123.<district>``.

    Partial receipts are allowed; never more than the claim still has
    outstanding (``receipt_exceeds_claim``). With an idempotency key a
    repeat returns the first receipt.
    """
    if amount <= 0:
        raise RuleBroken("invalid_amount", "a receipt must be positive", field="amount")
    school = db.get(School, claim.school_id)
    draft = books.EntryDraft(
        effective_date=received_on,
        memo=f"财政补贴到账 subsidy received on claim {claim.number}"
        f"{' (' + reference + ')' if reference else ''}",
        kind="subsidy_receipt",
        source_ref=f"subsidy-claim:{claim.id}",
        idempotency_key=idempotency_key,
        postings=[
            books.PostingDraft(SCHOOL_BANK, amount),
            books.PostingDraft(claim.funder_account, -amount),
        ],
    )
    earlier = replayed_row(db, school, draft, SubsidyReceipt, actor)
    if earlier is not None:
        return earlier
    outstanding = claim.amount - received_on_claim(db, claim)
    if amount > outstanding:
        raise RuleBroken(
            "receipt_exceeds_claim",
            f"claim {claim.number} has {outstanding} fen outstanding; {amount} fen is more",
            field="amount",
        )
    posted = books.post_entry(db, school.book_id, draft, actor=actor)
    receipt = SubsidyReceipt(
        claim_id=claim.id,
        amount=amount,
        received_on=received_on,
        reference=reference,
        entry_id=posted.entry_id,
        recorded_by=actor,
    )
    db.add(receipt)
    db.flush()
    claim.status = "received" if amount == outstanding else "partially_received"
    db.flush()
    return receipt


# --------------------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class StudentDifference:
    """One student's government share: claimed, due today, and the difference (due − claimed)."""

    student_id: int
    student_name: str
    claimed: int
    due: int

    @property
    def difference(self) -> int:
        return self.due - self.claimed


@dataclass
class ClaimReconciliation:
    claim_id: int
    number: str
    period_start: dt.date
    period_end: dt.date
    status: str
    claimed: int
    received: int
    #: The government's share of the claimed charges today.
    due: int
    students: list[StudentDifference] = field(default_factory=list)

    @property
    def outstanding(self) -> int:
        """Claimed and not yet received."""
        return self.claimed - self.received

    @property
    def difference(self) -> int:
        """Due today less claimed: negative when the claim asks for more than is owed now."""
        return self.due - self.claimed

    @property
    def differences(self) -> list[StudentDifference]:
        return [s for s in self.students if s.difference != 0]


def _by_student(
    amounts: list[tuple[int, int, int]], names: dict[int, str]
) -> list[StudentDifference]:
    """``(student_id, claimed, due)`` rows summed per student."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for student_id, claimed, due in amounts:
        sums[student_id][0] += claimed
        sums[student_id][1] += due
    return [
        StudentDifference(sid, names.get(sid, str(sid)), c, d)
        for sid, (c, d) in sorted(sums.items(), key=lambda kv: (names.get(kv[0], ""), kv[0]))
    ]


def _reconcile(
    db: Session,
    claim: SubsidyClaim,
    shares: dict[int, int],
    names: dict[int, str],
) -> ClaimReconciliation:
    lines = claim_lines(db, claim)
    rows = [(line.student_id, line.amount, shares.get(line.charge_id, 0)) for line in lines]
    return ClaimReconciliation(
        claim_id=claim.id,
        number=claim.number,
        period_start=claim.period_start,
        period_end=claim.period_end,
        status=claim.status,
        claimed=claim.amount,
        received=received_on_claim(db, claim),
        due=sum(due for _, _, due in rows),
        students=_by_student(rows, names),
    )


def _names(db: Session, school: School) -> dict[int, str]:
    rows = db.execute(select(Student.id, Student.name).where(Student.school_id == school.id))
    return {student_id: name for student_id, name in rows}


def reconcile_claim(db: Session, claim: SubsidyClaim) -> ClaimReconciliation:
    """Claimed, received, outstanding and due today for one claim, with per-student differences."""
    school = db.get(School, claim.school_id)
    return _reconcile(db, claim, government_share_now(db, school), _names(db, school))


@dataclass
class SchoolReconciliation:
    school_code: str
    claims: list[ClaimReconciliation]
    #: Government shares today of charges on no claim yet, per student (claimed is zero).
    unclaimed: list[StudentDifference]
    #: The funder's receivable in the school's book.
    books_balance: int

    @property
    def claimed(self) -> int:
        return sum(c.claimed for c in self.claims)

    @property
    def received(self) -> int:
        return sum(c.received for c in self.claims)

    @property
    def outstanding(self) -> int:
        return sum(c.outstanding for c in self.claims)

    @property
    def unclaimed_total(self) -> int:
        return sum(s.due for s in self.unclaimed)

    @property
    def expected_balance(self) -> int:
        """What the receivable should hold: every share due today, less what was received."""
        return sum(c.due for c in self.claims) + self.unclaimed_total - self.received

    @property
    def unexplained(self) -> int:
        """The receivable less what charges, credits and receipts explain (zero when sound)."""
        return self.books_balance - self.expected_balance

    @property
    def differences(self) -> list[StudentDifference]:
        """Per student over every claim, where today's share differs from what was claimed."""
        rows = [(s.student_id, s.claimed, s.due) for c in self.claims for s in c.students]
        names = {s.student_id: s.student_name for c in self.claims for s in c.students}
        return [s for s in _by_student(rows, names) if s.difference != 0]


def reconcile_school(db: Session, school: School) -> SchoolReconciliation:
    """Every claim of the school reconciled, the shares not claimed yet, and the books' balance."""
    shares = government_share_now(db, school)
    names = _names(db, school)
    claims = list(
        db.scalars(
            select(SubsidyClaim)
            .where(SubsidyClaim.school_id == school.id)
            .order_by(SubsidyClaim.id)
        )
    )
    claimed_charges = set(
        db.scalars(
            select(SubsidyClaimLine.charge_id)
            .join(SubsidyClaim, SubsidyClaim.id == SubsidyClaimLine.claim_id)
            .where(SubsidyClaim.school_id == school.id)
        )
    )
    students = _student_of_charges(db, school)
    unclaimed = _by_student(
        [
            (students[charge_id][0], 0, share)
            for charge_id, share in shares.items()
            if charge_id not in claimed_charges and share != 0
        ],
        names,
    )
    district = db.get(District, school.district_id)
    book = db.get(books.Book, school.book_id)
    account = books.get_account(db, book, funder_account(district))
    return SchoolReconciliation(
        school_code=school.code,
        claims=[_reconcile(db, c, shares, names) for c in claims],
        unclaimed=unclaimed,
        books_balance=books.account_balance(db, account).balance,
    )
