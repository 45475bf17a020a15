"""Tables of the after-school domain.

Money columns are integers of fen with named CHECK constraints; percentages
are basis points. Rows that evidence consent or approval (applications,
waivers, hardship status) keep who did what and when.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.books.models import utcnow
from ledger.books.orm import Base, BigId

from .fees import BillingPeriodKind, RefundRule, ShareMode, Unit, WaiverCover

PROGRAMME_KINDS = ("basic_care", "enrichment", "extended_care")


def _in(values) -> str:  # type: ignore[no-untyped-def]
    return ", ".join(f"'{getattr(v, 'value', v)}'" for v in values)


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The government funder that pays the district's subsidies (e.g. 区财政局).
    funder_name: Mapped[str] = mapped_column(String(200))
    #: Local end of the working day; a programme must not end before it ("5+2").
    end_of_work: Mapped[dt.time] = mapped_column(Time, default=dt.time(17, 30))


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"), unique=True)
    bank_name: Mapped[str | None] = mapped_column(String(200))
    bank_account: Mapped[str | None] = mapped_column(String(64))
    complaints_phone: Mapped[str | None] = mapped_column(String(40))

    district: Mapped[District] = relationship()


class Term(Base):
    __tablename__ = "terms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    name: Mapped[str] = mapped_column(String(100))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    billing_months: Mapped[int] = mapped_column(Integer)
    #: ISO weekdays with service, e.g. "12345".
    weekdays: Mapped[str] = mapped_column(String(7), default="12345")
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        CheckConstraint('"end" >= start', name="end_not_before_start"),
        CheckConstraint("billing_months BETWEEN 1 AND 12", name="billing_months_range"),
    )


class CalendarDay(Base):
    """A holiday inside a term, or a make-up day (调休上课) on a weekend."""

    __tablename__ = "calendar_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("term_id", "day"),
        CheckConstraint("kind IN ('holiday', 'makeup')", name="kind_known"),
    )


class SchoolClass(Base):
    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    name: Mapped[str] = mapped_column(String(100))
    grade: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("school_id", "name"),)


class Household(Base):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    name: Mapped[str] = mapped_column(String(200))

    guardians: Mapped[list[Guardian]] = relationship(back_populates="household")


class Guardian(Base):
    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    relation: Mapped[str | None] = mapped_column(String(40))

    household: Mapped[Household] = relationship(back_populates="guardians")


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    name: Mapped[str] = mapped_column(String(100))
    student_no: Mapped[str | None] = mapped_column(String(40))
    left_behind: Mapped[bool] = mapped_column(Boolean, default=False)
    migrant: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_students_household_id", "household_id"),)


class HardshipStatus(Base):
    """Verified economic hardship (家庭经济困难): the student pays nothing while it holds."""

    __tablename__ = "hardship_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    evidence_ref: Mapped[str] = mapped_column(String(200))
    verified_by: Mapped[str] = mapped_column(String(255))
    verified_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="valid_range"),
        Index("ix_hardship_statuses_student_id", "student_id"),
    )


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    weekdays: Mapped[str] = mapped_column(String(7), default="12345")
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column(Integer)
    #: Enrolments not withdrawn: counted up by an approval only while below
    #: ``capacity`` (one conditional UPDATE, so two clerks cannot both take the
    #: last place) and down by a withdrawal. Kept here so that a decision does not
    #: count the whole programme (quadratic in school size).
    places_taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lessons_per_session: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(PROGRAMME_KINDS)})", name="kind_known"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("places_taken >= 0", name="places_taken_not_negative"),
        CheckConstraint("lessons_per_session > 0", name="lessons_positive"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
    )


class FeeStandard(Base):
    """A fee standard approved by the price authority (物价/发改核定); never edited once used."""

    __tablename__ = "fee_standards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    amount: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(10))
    authority: Mapped[str] = mapped_column(String(200))
    document_no: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(f"unit IN ({_in(Unit)})", name="unit_known"),
        CheckConstraint(f"kind IN ({_in(PROGRAMME_KINDS)})", name="kind_known"),
        CheckConstraint("valid_to >= valid_from", name="valid_range"),
        CheckConstraint("(district_id IS NULL) <> (school_id IS NULL)", name="district_or_school"),
    )


class CostPolicy(Base):
    """A cost-sharing policy version (成本分担): unit cost, government and school shares."""

    __tablename__ = "cost_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date] = mapped_column(Date)
    unit: Mapped[str] = mapped_column(String(10))
    unit_cost: Mapped[int] = mapped_column(BigInteger)
    government_mode: Mapped[str] = mapped_column(String(10))
    government_value: Mapped[int] = mapped_column(BigInteger)
    school_mode: Mapped[str] = mapped_column(String(10))
    school_value: Mapped[int] = mapped_column(BigInteger)
    waiver_cover: Mapped[str] = mapped_column(String(12))
    refund_rule: Mapped[str] = mapped_column(String(12))
    fee_standard_id: Mapped[int] = mapped_column(ForeignKey("fee_standards.id"))
    notice_ref: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    fee_standard: Mapped[FeeStandard] = relationship()

    __table_args__ = (
        CheckConstraint("unit_cost > 0", name="unit_cost_positive"),
        CheckConstraint("government_value >= 0 AND school_value >= 0", name="shares_not_negative"),
        CheckConstraint(f"unit IN ({_in(Unit)})", name="unit_known"),
        CheckConstraint(f"government_mode IN ({_in(ShareMode)})", name="government_mode_known"),
        CheckConstraint(f"school_mode IN ({_in(ShareMode)})", name="school_mode_known"),
        CheckConstraint(f"waiver_cover IN ({_in(WaiverCover)})", name="waiver_cover_known"),
        CheckConstraint(f"refund_rule IN ({_in(RefundRule)})", name="refund_rule_known"),
        CheckConstraint("effective_to >= effective_from", name="effective_range"),
        CheckConstraint("(district_id IS NULL) <> (school_id IS NULL)", name="district_or_school"),
    )


class Application(Base):
    """A guardian's application (家长申请), the class review and the school approval."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    status: Mapped[str] = mapped_column(String(16))
    applied_by: Mapped[str] = mapped_column(String(255))
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    #: When finance records a written application on a guardian's behalf.
    written_ref: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[dt.date] = mapped_column(Date)
    reviewed_by: Mapped[str | None] = mapped_column(String(255))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    review_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "status IN ('applied', 'reviewed', 'approved', 'rejected', 'waitlisted', 'cancelled')",
            name="status_known",
        ),
        Index("ix_applications_programme_id_status", "programme_id", "status"),
        Index("ix_applications_student_id_programme_id", "student_id", "programme_id"),
    )


class Enrolment(Base):
    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    #: The first service day the student no longer attends (a withdrawal), if any.
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    withdrawn_by: Mapped[str | None] = mapped_column(String(255))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    __table_args__ = (
        UniqueConstraint("student_id", "programme_id"),
        Index("ix_enrolments_programme_id", "programme_id"),
    )


class Absence(Base):
    """A long absence reported by a guardian, credited under the ``half_month`` rule."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    reported_by: Mapped[str] = mapped_column(String(255))
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (CheckConstraint('"end" >= start', name="end_not_before_start"),)


class WaiverGrant(Base):
    """A full or partial waiver (免收/减免) of the parent share, approved by someone else."""

    __tablename__ = "waivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    #: Basis points of the parent share waived (10000 = full waiver).
    percent: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    evidence_ref: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    __table_args__ = (
        CheckConstraint("percent > 0 AND percent <= 10000", name="percent_range"),
        CheckConstraint("valid_to >= valid_from", name="valid_range"),
        CheckConstraint("status IN ('requested', 'approved', 'rejected')", name="status_known"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
        Index("ix_waivers_student_id", "student_id"),
    )


class BillingRun(Base):
    __tablename__ = "billing_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id"))
    period_kind: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    run_by: Mapped[str] = mapped_column(String(255))
    run_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    charges_posted: Mapped[int] = mapped_column(Integer, default=0)
    invoices_issued: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint(f"period_kind IN ({_in(BillingPeriodKind)})", name="period_kind_known"),
    )


class ChargeRecord(Base):
    """One enrolment's charge for one period, with every figure of its calculation."""

    __tablename__ = "charges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    billing_run_id: Mapped[int] = mapped_column(ForeignKey("billing_runs.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    fee_standard_id: Mapped[int] = mapped_column(ForeignKey("fee_standards.id"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("cost_policies.id"))
    unit: Mapped[str] = mapped_column(String(10))
    unit_cost: Mapped[int] = mapped_column(BigInteger)
    units_num: Mapped[int] = mapped_column(Integer)
    units_den: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer)
    enrolled_days: Mapped[int] = mapped_column(Integer)
    cost: Mapped[int] = mapped_column(BigInteger)
    government: Mapped[int] = mapped_column(BigInteger)
    school: Mapped[int] = mapped_column(BigInteger)
    parent: Mapped[int] = mapped_column(BigInteger)
    waiver: Mapped[int] = mapped_column(BigInteger)
    waiver_cover: Mapped[str] = mapped_column(String(12))
    household: Mapped[int] = mapped_column(BigInteger)
    #: 0 for a charge made by a billing run; n for the n-th reissue of its invoice.
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The charge of a cancelled invoice that this one bills again (a reissue).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), unique=True)

    __table_args__ = (
        UniqueConstraint("enrolment_id", "period_start", "generation"),
        CheckConstraint("generation >= 0", name="generation_not_negative"),
        CheckConstraint(
            "cost = government + school + parent AND cost >= 0 AND government >= 0 "
            "AND school >= 0 AND parent >= 0",
            name="shares_sum_to_cost",
        ),
        CheckConstraint(
            "waiver >= 0 AND waiver <= parent AND household = parent - waiver",
            name="waiver_within_parent_share",
        ),
        Index("ix_charges_household_id", "household_id"),
        Index("ix_charges_billing_run_id", "billing_run_id"),
    )


class Invoice(Base):
    """A fee notice for one household and period; numbers are gap-free per school and year."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_runs.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="issued")

    __table_args__ = (
        UniqueConstraint("school_id", "year", "seq"),
        UniqueConstraint("school_id", "number"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            "status IN ('issued', 'partially_paid', 'paid', 'overdue', 'cancelled', 'refunded')",
            name="status_known",
        ),
        Index("ix_invoices_household_id", "household_id"),
    )


class DocumentCounter(Base):
    """The last number issued per school, document kind and year (gap-free numbering)."""

    __tablename__ = "document_counters"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    #: The account the money was received into; always the school's bank account 1002.
    received_into: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    returned_entry_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("received_into = '1002'", name="school_bank_only"),
    )


class PaymentAllocation(Base):
    """How much of a payment settled which invoice (the rest went to household credit)."""

    __tablename__ = "payment_allocations"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


class CreditRecord(Base):
    """A credit against one charge (withdrawal, absence, late waiver), split as charged."""

    __tablename__ = "credits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"))
    reason: Mapped[str] = mapped_column(String(12))
    #: The withdrawal date or the absence (from/to) the credit is for.
    detail: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    total: Mapped[int] = mapped_column(BigInteger)
    government: Mapped[int] = mapped_column(BigInteger)
    school: Mapped[int] = mapped_column(BigInteger)
    household: Mapped[int] = mapped_column(BigInteger)
    absorbed: Mapped[int] = mapped_column(BigInteger)
    #: Of the household part: what reduced the invoice, and what went to household credit.
    to_invoice: Mapped[int] = mapped_column(BigInteger)
    to_credit_account: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "total > 0 AND total = government + school + household + absorbed "
            "AND household = to_invoice + to_credit_account "
            "AND government >= 0 AND school >= 0 AND household >= 0 AND absorbed >= 0 "
            "AND to_invoice >= 0 AND to_credit_account >= 0",
            name="parts_sum_to_total",
        ),
        CheckConstraint(
            "reason IN ('withdrawal', 'absence', 'waiver', 'cancel')", name="reason_known"
        ),
        Index("ix_credits_charge_id", "charge_id"),
    )


# --------------------------------------------------------------------------- settling invoices


class PaymentReturn(Base):
    """A bounced or returned payment (退票/退回): its entry reversed, its allocations void."""

    __tablename__ = "payment_returns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    returned_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    #: The reversal of the payment's entry.
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    returned_by: Mapped[str] = mapped_column(String(255))
    returned_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)


class CreditApplication(Base):
    """Household credit (2241) applied to an invoice: ``Dr 2241.H / Cr 1122.H``.

    ``reason`` says why: ``apply`` (finance applied available credit),
    ``reissue`` (what was paid on a cancelled invoice carried to its reissue,
    ``source_invoice_id``), ``return`` (a returned payment takes back the
    credit that a later credit note had put on 2241 because the invoice
    looked paid, ``payment_id``). An application is undone by reversing its
    entry (``undone_entry_id``), never by deleting it.
    """

    __tablename__ = "credit_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(10))
    source_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    undone_entry_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    applied_by: Mapped[str] = mapped_column(String(255))
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("reason IN ('apply', 'reissue', 'return')", name="reason_known"),
        Index("ix_credit_applications_invoice_id", "invoice_id"),
        Index("ix_credit_applications_household_id", "household_id"),
    )


class Refund(Base):
    """Household credit paid back out of the school's bank account: ``Dr 2241.H / Cr 1002``."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    #: The invoice whose credit this refund returns, when the refund names one.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    paid_from: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("paid_from = '1002'", name="school_bank_only"),
        Index("ix_refunds_household_id", "household_id"),
    )


class InvoiceCancellation(Base):
    """An invoice cancelled (作废): its charges credited in full; it keeps its number."""

    __tablename__ = "invoice_cancellations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    cancelled_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    cancelled_by: Mapped[str] = mapped_column(String(255))
    cancelled_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    #: The invoice that bills the same period again, once reissued (重开).
    reissued_as_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), unique=True)


class WriteOff(Base):
    """A small household balance written off to 5901 (多退少不补), approved by someone else."""

    __tablename__ = "write_offs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    #: The most that may be written off, as configured when it was requested.
    limit_amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    written_off_on: Mapped[dt.date | None] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, index=True)

    __table_args__ = (
        CheckConstraint("amount > 0 AND amount <= limit_amount", name="amount_within_limit"),
        CheckConstraint("status IN ('requested', 'approved', 'rejected')", name="status_known"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
        Index("ix_write_offs_household_id", "household_id"),
    )


class WriteOffLine(Base):
    """How much of a write-off settled which invoice."""

    __tablename__ = "write_off_lines"

    write_off_id: Mapped[int] = mapped_column(ForeignKey("write_offs.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


# --------------------------------------------------------------------------- closing


class YearClosing(Base):
    """A school year closed: revenue and expense moved to net assets 3001, dates locked."""

    __tablename__ = "year_closings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    name: Mapped[str] = mapped_column(String(100))
    year_start: Mapped[dt.date] = mapped_column(Date)
    year_end: Mapped[dt.date] = mapped_column(Date)
    #: The closing entry; none when every revenue and expense account was already zero.
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Net result moved to 3001 (revenue less expense, in fen; negative for a deficit).
    net_result: Mapped[int] = mapped_column(BigInteger)
    closed_by: Mapped[str] = mapped_column(String(255))
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("school_id", "year_end"),
        CheckConstraint("year_end >= year_start", name="end_not_before_start"),
    )


# --------------------------------------------------------------------------- subsidy claims


class SubsidyClaim(Base):
    """A claim of the government share (财政补贴申报) for a school and period: a document.

    The receivable was posted when billing ran; a claim only lists it, and a
    receipt against the claim clears it.
    """

    __tablename__ = "subsidy_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    number: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    #: The funder's receivable account in the school's book (``1123.<district>``).
    funder_account: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    claimed_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("school_id", "number"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("period_end >= period_start", name="end_not_before_start"),
        CheckConstraint(
            "status IN ('submitted', 'partially_received', 'received')", name="status_known"
        ),
    )


class SubsidyClaimLine(Base):
    """One charge's government share on a claim; a charge is claimed at most once."""

    __tablename__ = "subsidy_claim_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("subsidy_claims.id"))
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    amount: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_subsidy_claim_lines_claim_id", "claim_id"),
    )


class SubsidyReceipt(Base):
    """Money received from the government against a claim: ``Dr 1002 / Cr 1123.<district>``."""

    __tablename__ = "subsidy_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("subsidy_claims.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(200))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_subsidy_receipts_claim_id", "claim_id"),
    )


# --------------------------------------------------------------------------- money out

STAFF_KINDS = ("teacher", "external", "volunteer")
PAY_UNITS = ("hour", "lesson")
VENDOR_STATUSES = ("active", "suspended", "removed")
AGREEMENT_UNITS = ("student_lesson", "session")
PAYOUT_SOURCES = ("pay_line", "tax", "vendor_bill")


class StaffMember(Base):
    """Someone who runs the service: a school teacher (stipends, 补助), external staff
    (labour fees, 劳务费, with income tax withheld) or a volunteer (hours only, no pay).

    External staff's ID type and number are kept for the tax report.
    """

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    id_type: Mapped[str | None] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(40))
    bank_account: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(STAFF_KINDS)})", name="kind_known"),
        CheckConstraint(
            "kind <> 'external' OR (id_type IS NOT NULL AND id_number IS NOT NULL)",
            name="external_has_id",
        ),
        Index("ix_staff_members_school_id", "school_id"),
    )


class PayRate(Base):
    """A stipend or labour-fee rate, effective-dated, per staff kind and programme kind."""

    __tablename__ = "pay_rates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    staff_kind: Mapped[str] = mapped_column(String(12))
    programme_kind: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    monthly_cap: Mapped[int | None] = mapped_column(BigInteger)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("staff_kind IN ('teacher', 'external')", name="staff_kind_paid"),
        CheckConstraint(f"programme_kind IN ({_in(PROGRAMME_KINDS)})", name="programme_kind_known"),
        CheckConstraint(f"unit IN ({_in(PAY_UNITS)})", name="unit_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("monthly_cap IS NULL OR monthly_cap > 0", name="cap_positive"),
        CheckConstraint("valid_to >= valid_from", name="dates_ordered"),
    )


class ServiceHours(Base):
    """Who served which programme on which date, from when to when (and how many 课时).

    Paid only once approved by finance; ``pay_line_id`` names the pay line that
    paid it (stipend or labour fee), so no session is paid twice.
    """

    __tablename__ = "service_hours"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    service_date: Mapped[dt.date] = mapped_column(Date)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    minutes: Mapped[int] = mapped_column(Integer)
    lessons: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="logged")
    logged_by: Mapped[str] = mapped_column(String(255))
    logged_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    pay_line_id: Mapped[int | None] = mapped_column(ForeignKey("pay_lines.id"))

    __table_args__ = (
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        CheckConstraint("minutes > 0 AND lessons >= 0", name="amounts_positive"),
        CheckConstraint("status IN ('logged', 'approved', 'rejected')", name="status_known"),
        CheckConstraint("pay_line_id IS NULL OR status = 'approved'", name="paid_only_approved"),
        Index("ix_service_hours_staff_id_service_date", "staff_id", "service_date"),
        Index("ix_service_hours_school_id_service_date", "school_id", "service_date"),
    )


class PayRun(Base):
    """One stipend and labour-fee run for a school and month (run again for late approvals)."""

    __tablename__ = "pay_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    posted_on: Mapped[dt.date] = mapped_column(Date)
    run_by: Mapped[str] = mapped_column(String(255))
    run_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("month BETWEEN 1 AND 12", name="month_valid"),)


class PayLine(Base):
    """What one person earned for newly paid hours of one month, with every figure.

    A stipend: ``Dr 5001 / Cr 2211.S<id>``. A labour fee: ``Dr 5002 gross /
    Cr 2221 tax / Cr 2211.S<id> net``, where the month is one payment: the tax
    is the tax on ``month_gross`` (the month's total after this line) minus what
    earlier lines of the month withheld. ``capped`` is what the monthly cap
    kept out of ``gross``.
    """

    __tablename__ = "pay_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pay_runs.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    kind: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    lessons: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    capped: Mapped[int] = mapped_column(BigInteger, default=0)
    gross: Mapped[int] = mapped_column(BigInteger)
    month_gross: Mapped[int] = mapped_column(BigInteger)
    taxable: Mapped[str] = mapped_column(String(24), default="0")
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    month_tax: Mapped[int] = mapped_column(BigInteger, default=0)
    net: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("kind IN ('stipend', 'labour_fee')", name="kind_known"),
        CheckConstraint(
            "gross >= 0 AND tax >= 0 AND net = gross - tax AND capped >= 0",
            name="figures_add_up",
        ),
        Index("ix_pay_lines_school_id_year_month", "school_id", "year", "month"),
        Index("ix_pay_lines_staff_id", "staff_id"),
    )


class Vendor(Base):
    """A vendor on the district's whitelist (白名单) of vetted service providers."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    qualification: Mapped[str] = mapped_column(String(500))
    services: Mapped[str] = mapped_column(String(500))
    approved_price: Mapped[int] = mapped_column(BigInteger)
    price_unit: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("district_id", "uscc"),
        CheckConstraint(f"status IN ({_in(VENDOR_STATUSES)})", name="status_known"),
        CheckConstraint(f"price_unit IN ({_in(AGREEMENT_UNITS)})", name="price_unit_known"),
        CheckConstraint("approved_price > 0", name="price_positive"),
        CheckConstraint("valid_to >= valid_from", name="dates_ordered"),
        CheckConstraint("length(uscc) = 18", name="uscc_length"),
    )


class VendorStatusChange(Base):
    """Who suspended, reinstated or removed a vendor, when and why."""

    __tablename__ = "vendor_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    status: Mapped[str] = mapped_column(String(10))
    effective: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    changed_by: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)


class PurchaseAgreement(Base):
    """A school's agreement to buy a programme's sessions from a whitelisted vendor."""

    __tablename__ = "purchase_agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    reference: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    cap: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(f"unit IN ({_in(AGREEMENT_UNITS)})", name="unit_known"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("cap IS NULL OR cap > 0", name="cap_positive"),
        CheckConstraint('"end" >= start', name="dates_ordered"),
    )


class VendorBill(Base):
    """A vendor's bill for delivered sessions: ``Dr 5003 / Cr 2202.V<id>``."""

    __tablename__ = "vendor_bills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    agreement_id: Mapped[int] = mapped_column(ForeignKey("purchase_agreements.id"))
    reference: Mapped[str] = mapped_column(String(200))
    service_date: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("vendor_id", "reference"),
        CheckConstraint("quantity > 0 AND unit_price > 0", name="quantity_positive"),
        CheckConstraint("amount = quantity * unit_price", name="amount_is_quantity_times_price"),
        Index("ix_vendor_bills_agreement_id", "agreement_id"),
    )


class PayoutBatch(Base):
    """Money paid out of the school's bank account 1002 in one batch.

    ``draft`` lists what will be paid; ``paid`` posted ``Dr 2211/2221/2202 /
    Cr 1002``; a draft may be ``cancelled``. ``method`` ``payroll_transfer``
    moves stipends to the school's payroll, with an export file.
    """

    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    total: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    paid_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'paid', 'cancelled')", name="status_known"),
        CheckConstraint(
            "method IN ('bank_transfer', 'payroll_transfer', 'tax_remittance')",
            name="method_known",
        ),
        CheckConstraint("total > 0", name="total_positive"),
    )


class PayoutItem(Base):
    """One payable in a payout batch. A payable is in at most one live batch.

    ``live`` is 1 while the batch is a draft or paid and NULL once it is
    cancelled, so the unique constraint lets a cancelled draft's payables be
    batched again but never paid twice.
    """

    __tablename__ = "payout_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"))
    source: Mapped[str] = mapped_column(String(12))
    source_id: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(64))
    payee: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    live: Mapped[int | None] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("source", "source_id", "live"),
        CheckConstraint(f"source IN ({_in(PAYOUT_SOURCES)})", name="source_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("live IS NULL OR live = 1", name="live_flag"),
        Index("ix_payout_items_batch_id", "batch_id"),
    )
