"""Schemas of "explain a charge": what :func:`invoices.data.charge_explanation` returns, with
money as strings (``"400.00"``) and dates in ISO form."""

from __future__ import annotations

from marshmallow import Schema, fields

from .schemas import Amount, UtcDateTime
from .school_schemas import FeeStandardOut


class WhyNamed(Schema):
    id = fields.Integer()
    name = fields.String()


class WhySchoolRef(Schema):
    code = fields.String()
    name = fields.String()


class WhyProgramme(WhyNamed):
    kind = fields.String()


class WhyTerm(WhyNamed):
    billing_months = fields.Integer()


class WhyPeriod(Schema):
    start = fields.Date()
    end = fields.Date()


class WhyShare(Schema):
    mode = fields.String(metadata={"description": "amount or percent"})
    amount = Amount(allow_none=True, metadata={"description": "per unit, when mode is amount"})
    percent = fields.String(
        allow_none=True, metadata={"description": "exact percentage, when mode is percent"}
    )


class WhyPolicy(Schema):
    id = fields.Integer()
    kind = fields.String()
    version = fields.Integer()
    unit = fields.String()
    unit_cost = Amount()
    government = fields.Nested(WhyShare)
    school = fields.Nested(WhyShare)
    waiver_cover = fields.String()
    refund_rule = fields.String()
    notice_ref = fields.String()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)


class WhyCalculation(Schema):
    unit = fields.String()
    unit_cost = Amount()
    units_num = fields.Integer()
    units_den = fields.Integer()
    per_day = fields.Boolean()
    lessons_per_session = fields.Integer()
    period_days = fields.Integer()
    enrolled_days = fields.Integer()
    prorated = fields.Boolean()
    exact_cost_fen = fields.String(metadata={"description": "the exact cost in fen, decimal"})
    cost = Amount()
    rounding = fields.String()
    rounding_difference_fen = fields.String()


class WhyShares(Schema):
    government = Amount()
    school = Amount()
    parent = Amount()


class WhyGrant(Schema):
    kind = fields.String()
    percent = fields.String()
    reason = fields.String()
    evidence_ref = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()


class WhyWaiver(Schema):
    amount = Amount()
    cover = fields.String()
    grants = fields.List(fields.Nested(WhyGrant))


class WhyPayers(Schema):
    government = Amount(signed=True)
    school = Amount(signed=True)
    household = Amount(signed=True)
    absorbed = Amount(signed=True)


class WhyCredit(Schema):
    reason = fields.String()
    detail = fields.String(allow_none=True)
    date = fields.Date()
    total = Amount()
    government = Amount()
    school = Amount()
    household = Amount()
    absorbed = Amount()
    to_invoice = Amount()
    to_credit_account = Amount()


class WhyEnrolment(Schema):
    id = fields.Integer()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)


class WhyApplied(Schema):
    by = fields.String(metadata={"description": "who applied (a guardian, or finance)"})
    at = UtcDateTime()
    written_ref = fields.String(
        allow_none=True, metadata={"description": "the written application finance recorded"}
    )


class WhyStep(Schema):
    by = fields.String(allow_none=True)
    at = UtcDateTime(allow_none=True)
    note = fields.String()


class WhyApproval(WhyStep):
    decision = fields.String()


class WhyApplicationOut(Schema):
    id = fields.Integer()
    status = fields.String()
    start_date = fields.Date()
    applied = fields.Nested(WhyApplied)
    review = fields.Nested(WhyStep, allow_none=True, metadata={"description": "class review"})
    approval = fields.Nested(
        WhyApproval, allow_none=True, metadata={"description": "the school's decision"}
    )


class WhyGuardian(Schema):
    name = fields.String()
    phone = fields.String()
    relation = fields.String()


class WhyEntryPostingOut(Schema):
    account = fields.String()
    account_name = fields.String()
    direction = fields.String()
    amount = Amount(signed=True, metadata={"description": "signed: debit +, credit -"})
    currency = fields.String()


class WhyExplainedEntryOut(Schema):
    id = fields.Integer()
    book = fields.String()
    number = fields.Integer()
    date = fields.Date()
    kind = fields.String()
    memo = fields.String()
    source_ref = fields.String(allow_none=True)
    posted_by = fields.String()
    recorded_at = UtcDateTime()
    hash = fields.String()
    reversed_by = fields.Integer(allow_none=True)
    postings = fields.List(fields.Nested(WhyEntryPostingOut))


class ChargeExplanationOut(Schema):
    charge = fields.Integer()
    school = fields.Nested(WhySchoolRef)
    invoice = fields.String(allow_none=True)
    household_id = fields.Integer()
    student = fields.Nested(WhyNamed)
    programme = fields.Nested(WhyProgramme)
    term = fields.Nested(WhyTerm)
    period = fields.Nested(WhyPeriod)
    generation = fields.Integer()
    standard = fields.Nested(FeeStandardOut)
    policy = fields.Nested(WhyPolicy)
    calculation = fields.Nested(WhyCalculation)
    shares = fields.Nested(WhyShares)
    parent_ceiling = Amount(metadata={"description": "most the parent share may be"})
    waiver = fields.Nested(WhyWaiver)
    household = Amount(metadata={"description": "what the household was charged"})
    payers = fields.Nested(WhyPayers)
    credits = fields.List(fields.Nested(WhyCredit))
    now = fields.Nested(WhyPayers, metadata={"description": "what each payer carries now"})
    enrolment = fields.Nested(WhyEnrolment)
    application = fields.Nested(WhyApplicationOut, allow_none=True)
    guardians = fields.List(fields.Nested(WhyGuardian))
    entry = fields.Nested(WhyExplainedEntryOut, allow_none=True)


class EntryExplanationOut(Schema):
    entry = fields.Nested(WhyExplainedEntryOut)
    charges = fields.List(fields.Nested(ChargeExplanationOut))
