"""marshmallow schemas of programmes, closing, subsidy claims and settling invoices.

Money goes out and comes in as strings (``"12.34"``), dates as ISO 8601, and
unknown fields in a body or query string are refused (``Strict``).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .schemas import Amount, PeriodOut, Strict, TrialBalanceLineOut
from .school_schemas import InvoiceOut, ProgrammeOut

MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month is YYYY-MM")
TEXT = validate.Length(min=1, max=2000)
REF = validate.Length(max=200)

# --------------------------------------------------------------------------- programmes


class ShapeWarningOut(Schema):
    code = fields.String(
        metadata={"description": "fewer_than_five_days, under_two_hours or ends_before_end_of_work"}
    )
    message = fields.String()


class ProgrammeCreatedOut(ProgrammeOut):
    warnings = fields.List(
        fields.Nested(ShapeWarningOut),
        metadata={"description": "breaches of the 5+2 shape; empty when the schedule has it"},
    )


class ProgrammeList(Schema):
    items = fields.List(fields.Nested(ProgrammeCreatedOut))


class ProgrammeListArgs(Strict):
    term = fields.Integer(load_default=None)


class ProgrammeComplianceOut(Schema):
    programme = fields.Integer(attribute="programme_id")
    name = fields.String()
    kind = fields.String()
    term = fields.Integer(attribute="term_id")
    weekdays = fields.String()
    start_time = fields.Time(format="%H:%M")
    end_time = fields.Time(format="%H:%M")
    compliant = fields.Boolean()
    warnings = fields.List(fields.Nested(ShapeWarningOut))


class TermShapeOut(Schema):
    term = fields.Integer(attribute="term_id")
    name = fields.String(attribute="term_name")
    compliant = fields.Boolean()
    warnings = fields.List(fields.Nested(ShapeWarningOut))


class ComplianceOut(Schema):
    school = fields.String(attribute="school_code")
    end_of_work = fields.Time(format="%H:%M")
    with_warnings = fields.Function(lambda c: len(c.with_warnings))
    programmes = fields.List(fields.Nested(ProgrammeComplianceOut))
    terms = fields.List(fields.Nested(TermShapeOut))


# --------------------------------------------------------------------------- closing


class ClosePeriodIn(Strict):
    term = fields.Integer(required=True)
    month = fields.String(
        load_default=None,
        validate=MONTH,
        metadata={"description": "YYYY-MM to close one month; absent to close the whole term"},
    )


class ClosePeriodOut(Schema):
    school = fields.String()
    term = fields.Integer()
    month = fields.String(allow_none=True)
    term_closed = fields.Boolean()
    periods = fields.List(fields.Nested(PeriodOut))


class CloseYearIn(Strict):
    year_start = fields.Date(required=True)
    year_end = fields.Date(required=True)
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class MovedOut(Schema):
    account = fields.String()
    balance = Amount(signed=True, metadata={"description": "debit positive, credit negative"})


class CloseYearOut(Schema):
    school = fields.String()
    name = fields.String()
    year_start = fields.Date()
    year_end = fields.Date()
    entry = fields.Integer(allow_none=True)
    net_result = Amount(signed=True, metadata={"description": "surplus positive"})
    moved = fields.List(fields.Nested(MovedOut))
    periods = fields.List(fields.Nested(PeriodOut))


class RollupArgs(Strict):
    as_of = fields.Date(load_default=None)


class SchoolTrialBalanceOut(Schema):
    school = fields.String(attribute="school_code")
    name = fields.String(attribute="school_name")
    lines = fields.List(fields.Nested(TrialBalanceLineOut))
    summary = fields.List(fields.Nested(TrialBalanceLineOut))
    total_debit = Amount()
    total_credit = Amount()


class RollupOut(Schema):
    district = fields.String(attribute="district_code")
    as_of = fields.Date(allow_none=True)
    schools = fields.List(fields.Nested(SchoolTrialBalanceOut))
    total = fields.List(fields.Nested(TrialBalanceLineOut))
    total_debit = Amount()
    total_credit = Amount()


# --------------------------------------------------------------------------- subsidy claims


class ClaimIn(Strict):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    claimed_on = fields.Date(load_default=None, metadata={"description": "default: today"})


class StudentDifferenceOut(Schema):
    student = fields.Integer(attribute="student_id")
    name = fields.String(attribute="student_name")
    claimed = Amount(signed=True)
    due = Amount(signed=True)
    difference = Amount(signed=True, metadata={"description": "due today less claimed"})


class ClaimOut(Schema):
    id = fields.Integer(attribute="claim_id")
    number = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    status = fields.String()
    claimed = Amount()
    received = Amount()
    outstanding = Amount(signed=True)
    due = Amount(signed=True, metadata={"description": "the claimed charges' share today"})
    difference = Amount(signed=True)
    students = fields.List(fields.Nested(StudentDifferenceOut))
    differences = fields.List(fields.Nested(StudentDifferenceOut))


class ReceiptIn(Strict):
    amount = Amount(required=True)
    received_on = fields.Date(required=True)
    reference = fields.String(load_default=None, validate=REF)


class ReceiptOut(Schema):
    id = fields.Integer()
    claim = fields.Integer(attribute="claim_id")
    amount = Amount()
    received_on = fields.Date()
    reference = fields.String(allow_none=True)
    entry = fields.Integer(attribute="entry_id")
    recorded_by = fields.String()


class SchoolReconciliationOut(Schema):
    school = fields.String(attribute="school_code")
    claimed = Amount()
    received = Amount()
    outstanding = Amount(signed=True)
    unclaimed_total = Amount(signed=True)
    books_balance = Amount(signed=True, metadata={"description": "the funder's receivable"})
    expected_balance = Amount(signed=True)
    unexplained = Amount(signed=True, metadata={"description": "zero when the books agree"})
    claims = fields.List(fields.Nested(ClaimOut))
    unclaimed = fields.List(fields.Nested(StudentDifferenceOut))
    differences = fields.List(fields.Nested(StudentDifferenceOut))


# --------------------------------------------------------------------------- refunds, returns


class RefundIn(Strict):
    household = fields.Integer(required=True)
    amount = Amount(required=True)
    paid_on = fields.Date(required=True)
    method = fields.String(required=True)
    reference = fields.String(load_default=None, validate=REF)
    invoice = fields.String(
        load_default=None, metadata={"description": "the invoice whose credit is refunded"}
    )
    paid_from = fields.String(
        load_default="1002", metadata={"description": "always the school's bank account 1002"}
    )


class CreditApplyIn(Strict):
    household = fields.Integer(required=True)
    on = fields.Date(required=True, metadata={"description": "date of the entries"})
    amount = Amount(
        load_default=None, metadata={"description": "at most this much; default all credit held"}
    )
    invoice = fields.String(
        load_default=None, metadata={"description": "settle this invoice first, then the oldest"}
    )


class CreditApplicationOut(Schema):
    id = fields.Integer()
    invoice = fields.String()
    amount = Amount()
    entry = fields.Integer()


class CreditApplyOut(Schema):
    household = fields.Integer()
    items = fields.List(fields.Nested(CreditApplicationOut))
    applied = Amount()
    credit_left = Amount(signed=True, metadata={"description": "household credit held after"})


class RefundOut(Schema):
    id = fields.Integer()
    household = fields.Integer()
    amount = Amount()
    paid_on = fields.Date()
    method = fields.String()
    reference = fields.String(allow_none=True)
    invoice = fields.String(allow_none=True)
    entry = fields.Integer()
    credit_left = Amount(signed=True, metadata={"description": "household credit held after"})


class ReturnIn(Strict):
    returned_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=TEXT)


class ReopenedOut(Schema):
    invoice = fields.String()
    status = fields.String()
    outstanding = Amount(signed=True)


class ReturnOut(Schema):
    payment = fields.Integer()
    amount = Amount()
    returned_on = fields.Date()
    reason = fields.String()
    entry = fields.Integer()
    reopened = fields.List(fields.Nested(ReopenedOut))
    undone = fields.List(fields.Integer(), metadata={"description": "credit applications undone"})
    taken_back = Amount()


# --------------------------------------------------------------------------- cancel, reissue


class CancelIn(Strict):
    on = fields.Date(required=True, metadata={"description": "the date of the credits"})
    reason = fields.String(required=True, validate=TEXT)


class CancelOut(Schema):
    invoice = fields.Nested(InvoiceOut)
    cancelled_on = fields.Date()
    reason = fields.String()
    cancelled_by = fields.String()


class ReissueIn(Strict):
    issued_on = fields.Date(required=True)
    due_days = fields.Integer(load_default=15, validate=validate.Range(min=0, max=120))


class ReissueOut(Schema):
    cancelled = fields.String()
    invoice = fields.Nested(InvoiceOut)
    charges = fields.Integer()
    carried = Amount(metadata={"description": "paid on the cancelled invoice, carried over"})


# --------------------------------------------------------------------------- late waivers


class LateWaiverIn(Strict):
    effective = fields.Date(required=True, metadata={"description": "the date of the credits"})


# --------------------------------------------------------------------------- write-offs


class WriteOffIn(Strict):
    household = fields.Integer(required=True)
    amount = Amount(load_default=None, metadata={"description": "default: all that is owed"})
    reason = fields.String(required=True, validate=TEXT)


class WriteOffDecisionIn(Strict):
    approve = fields.Boolean(required=True)
    on = fields.Date(load_default=None, metadata={"description": "date of the entry; today"})


class WriteOffLineOut(Schema):
    invoice = fields.String()
    amount = Amount()


class WriteOffOut(Schema):
    id = fields.Integer()
    household = fields.Integer()
    amount = Amount()
    limit = Amount()
    reason = fields.String()
    status = fields.String()
    requested_by = fields.String()
    decided_by = fields.String(allow_none=True)
    written_off_on = fields.Date(allow_none=True)
    entry = fields.Integer(allow_none=True)
    lines = fields.List(fields.Nested(WriteOffLineOut))


# --------------------------------------------------------------------------- overdue


class OverdueIn(Strict):
    as_of = fields.Date(required=True)


class OverdueOut(Schema):
    as_of = fields.Date()
    items = fields.List(fields.Nested(InvoiceOut))
