"""marshmallow schemas of the after-school resources."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ledger.school.fees import RefundRule, ShareMode, Unit, WaiverCover
from ledger.school.models import PROGRAMME_KINDS

from .schemas import Amount, Page, Strict, UtcDateTime

KINDS = validate.OneOf(list(PROGRAMME_KINDS))


class DistrictIn(Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    funder_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    end_of_work = fields.Time(load_default=None, format="%H:%M")


class DistrictOut(Schema):
    code = fields.String()
    name = fields.String()
    funder_name = fields.String()
    end_of_work = fields.Time(format="%H:%M")


class SchoolIn(Strict):
    district = fields.String(required=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    bank_name = fields.String(load_default=None)
    bank_account = fields.String(load_default=None)
    complaints_phone = fields.String(load_default=None)


class SchoolOut(Schema):
    code = fields.String()
    name = fields.String()
    district = fields.Function(lambda s: s.district.code)
    book = fields.Function(lambda s: s.code)
    bank_name = fields.String(allow_none=True)
    bank_account = fields.String(allow_none=True)
    complaints_phone = fields.String(allow_none=True)


class SchoolPage(Page):
    items = fields.List(fields.Nested(SchoolOut))


class TermIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    billing_months = fields.Integer(required=True)
    weekdays = fields.String(load_default="12345")


class TermOut(Schema):
    id = fields.Integer()
    name = fields.String()
    start = fields.Date()
    end = fields.Date()
    billing_months = fields.Integer()
    weekdays = fields.String()
    is_closed = fields.Boolean()


class TermList(Schema):
    items = fields.List(fields.Nested(TermOut))


class CalendarDayIn(Strict):
    day = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["holiday", "makeup"]))
    note = fields.String(load_default="")


class ServiceDaysOut(Schema):
    term = fields.Integer()
    count = fields.Integer()
    days = fields.List(fields.Date())


class HouseholdIn(Strict):
    district = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    guardians = fields.List(
        fields.Dict(keys=fields.String(), values=fields.String()), load_default=list
    )


class HouseholdOut(Schema):
    id = fields.Integer()
    name = fields.String()
    district = fields.String(attribute="district_code")


class StudentIn(Strict):
    household = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    student_no = fields.String(load_default=None)
    class_name = fields.String(load_default=None, data_key="class")
    left_behind = fields.Boolean(load_default=False)
    migrant = fields.Boolean(load_default=False)


class StudentOut(Schema):
    id = fields.Integer()
    name = fields.String()
    household = fields.Integer(attribute="household_id")
    student_no = fields.String(allow_none=True)
    left_behind = fields.Boolean()
    migrant = fields.Boolean()


class StudentPage(Page):
    items = fields.List(fields.Nested(StudentOut))


class HardshipIn(Strict):
    evidence_ref = fields.String(required=True, validate=validate.Length(min=1, max=200))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class HardshipOut(Schema):
    id = fields.Integer()
    student = fields.Integer(attribute="student_id")
    evidence_ref = fields.String()
    verified_by = fields.String()
    verified_at = UtcDateTime()
    valid_from = fields.Date()
    valid_to = fields.Date()


class FeeStandardIn(Strict):
    district = fields.String(load_default=None)
    school = fields.String(load_default=None)
    kind = fields.String(required=True, validate=KINDS)
    amount = Amount(required=True)
    unit = fields.String(required=True, validate=validate.OneOf([u.value for u in Unit]))
    authority = fields.String(required=True, validate=validate.Length(min=1, max=200))
    document_no = fields.String(required=True, validate=validate.Length(min=1, max=100))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class FeeStandardOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    version = fields.Integer()
    amount = Amount()
    unit = fields.String()
    authority = fields.String()
    document_no = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()


class FeeStandardList(Schema):
    items = fields.List(fields.Nested(FeeStandardOut))


class ShareIn(Strict):
    mode = fields.String(required=True, validate=validate.OneOf([m.value for m in ShareMode]))
    amount = Amount(load_default=None, metadata={"description": "when mode is amount"})
    percent = fields.Decimal(
        load_default=None,
        as_string=True,
        places=2,
        metadata={"type": "string", "description": 'when mode is percent, e.g. "33.33"'},
    )


class CostPolicyIn(Strict):
    district = fields.String(load_default=None)
    school = fields.String(load_default=None)
    kind = fields.String(required=True, validate=KINDS)
    fee_standard = fields.Integer(required=True)
    effective_from = fields.Date(required=True)
    effective_to = fields.Date(required=True)
    unit = fields.String(required=True, validate=validate.OneOf([u.value for u in Unit]))
    unit_cost = Amount(required=True)
    government = fields.Nested(ShareIn, required=True)
    school_share = fields.Nested(ShareIn, required=True)
    waiver_cover = fields.String(
        required=True, validate=validate.OneOf([w.value for w in WaiverCover])
    )
    refund_rule = fields.String(
        required=True, validate=validate.OneOf([r.value for r in RefundRule])
    )
    notice_ref = fields.String(load_default=None)


class CostPolicyOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    version = fields.Integer()
    effective_from = fields.Date()
    effective_to = fields.Date()
    unit = fields.String()
    unit_cost = Amount()
    government_mode = fields.String()
    government_value = fields.Integer(
        metadata={"description": "fen (amount) or basis points (percent)"}
    )
    school_mode = fields.String()
    school_value = fields.Integer()
    waiver_cover = fields.String()
    refund_rule = fields.String()
    fee_standard = fields.Integer(attribute="fee_standard_id")


class ProgrammeIn(Strict):
    term = fields.Integer(required=True)
    kind = fields.String(required=True, validate=KINDS)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    weekdays = fields.String(load_default="12345")
    start_time = fields.Time(required=True, format="%H:%M")
    end_time = fields.Time(required=True, format="%H:%M")
    capacity = fields.Integer(required=True, validate=validate.Range(min=1))
    lessons_per_session = fields.Integer(load_default=1, validate=validate.Range(min=1))


class ProgrammeOut(Schema):
    id = fields.Integer()
    term = fields.Integer(attribute="term_id")
    kind = fields.String()
    name = fields.String()
    weekdays = fields.String()
    start_time = fields.Time(format="%H:%M")
    end_time = fields.Time(format="%H:%M")
    capacity = fields.Integer()
    lessons_per_session = fields.Integer()


class ApplicationIn(Strict):
    student = fields.Integer(required=True)
    programme = fields.Integer(required=True)
    start_date = fields.Date(load_default=None)
    written_ref = fields.String(
        load_default=None,
        metadata={"description": "finance recording a written application: its reference"},
    )


class DecisionIn(Strict):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None)


class ApplicationOut(Schema):
    id = fields.Integer()
    student = fields.Integer(attribute="student_id")
    programme = fields.Integer(attribute="programme_id")
    status = fields.String()
    applied_by = fields.String()
    applied_at = UtcDateTime()
    written_ref = fields.String(allow_none=True)
    start_date = fields.Date()
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = UtcDateTime(allow_none=True)
    review_note = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    enrolment = fields.Integer(allow_none=True)


class EnrolmentOut(Schema):
    id = fields.Integer()
    student = fields.Integer(attribute="student_id")
    programme = fields.Integer(attribute="programme_id")
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)


class AdmitOut(Schema):
    enrolled = fields.List(fields.Nested(EnrolmentOut))
    waitlisted = fields.List(fields.Integer())


class WithdrawIn(Strict):
    effective = fields.Date(
        required=True, metadata={"description": "first service day no longer attended"}
    )


class AbsenceIn(Strict):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class CreditOut(Schema):
    id = fields.Integer()
    charge = fields.Integer(attribute="charge_id")
    reason = fields.String()
    detail = fields.String()
    entry = fields.Integer(attribute="entry_id")
    total = Amount()
    government = Amount()
    school = Amount()
    household = Amount()
    absorbed = Amount()
    to_invoice = Amount()
    to_credit_account = Amount()


class CreditList(Schema):
    items = fields.List(fields.Nested(CreditOut))


class WaiverIn(Strict):
    student = fields.Integer(required=True)
    percent = fields.Decimal(
        required=True,
        as_string=True,
        places=2,
        metadata={"type": "string", "description": 'share of the parent share waived, "100"'},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1))
    evidence_ref = fields.String(required=True, validate=validate.Length(min=1, max=200))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class WaiverOut(Schema):
    id = fields.Integer()
    student = fields.Integer(attribute="student_id")
    percent_bp = fields.Integer(attribute="percent")
    reason = fields.String()
    evidence_ref = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()
    status = fields.String()
    requested_by = fields.String()
    decided_by = fields.String(allow_none=True)


class BillingRunIn(Strict):
    term = fields.Integer(required=True)
    month = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
        metadata={"description": "YYYY-MM to bill one month; absent to bill the whole term"},
    )
    issued_on = fields.Date(load_default=None)
    due_days = fields.Integer(load_default=15, validate=validate.Range(min=0, max=120))
    dry_run = fields.Boolean(load_default=False)
    queue = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "true: run on a worker (202 and a job); false: now, in this request; "
            "absent: on a worker when the server has a queue (KEHOU_QUEUE_URL). "
            "Dry runs always run now."
        },
    )


class ChargeOut(Schema):
    enrolment = fields.Integer()
    student = fields.String()
    household = fields.Integer()
    programme = fields.String()
    unit = fields.String()
    period_days = fields.Integer()
    enrolled_days = fields.Integer()
    cost = Amount()
    government = Amount()
    school = Amount()
    parent = Amount()
    waiver = Amount()
    household_due = Amount()
    waiver_reasons = fields.List(fields.String())


class InvoiceRef(Schema):
    household = fields.Integer()
    number = fields.String()
    amount = Amount()


class BillingRunOut(Schema):
    run = fields.Integer(allow_none=True)
    school = fields.String()
    period_kind = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    dry_run = fields.Boolean()
    already_billed = fields.Integer()
    totals = fields.Dict(keys=fields.String(), values=Amount())
    charges = fields.List(fields.Nested(ChargeOut))
    invoices = fields.List(fields.Nested(InvoiceRef))


class InvoiceOut(Schema):
    number = fields.String()
    household = fields.Integer(attribute="household_id")
    period_start = fields.Date()
    period_end = fields.Date()
    issued_on = fields.Date()
    due_date = fields.Date()
    amount = Amount()
    outstanding = Amount()
    status = fields.String()


class InvoicePage(Page):
    items = fields.List(fields.Nested(InvoiceOut))


class PaymentPage(Page):
    items = fields.List(fields.Nested("PaymentOut"))


class PaymentIn(Strict):
    household = fields.Integer(required=True)
    amount = Amount(required=True)
    received_on = fields.Date(required=True)
    method = fields.String(required=True)
    reference = fields.String(load_default=None)
    received_into = fields.String(
        load_default="1002", metadata={"description": "always the school's bank account 1002"}
    )


class AllocationOut(Schema):
    invoice = fields.String()
    amount = Amount()


class PaymentOut(Schema):
    id = fields.Integer()
    household = fields.Integer()
    amount = Amount()
    received_on = fields.Date()
    method = fields.String()
    reference = fields.String(allow_none=True)
    entry = fields.Integer()
    allocations = fields.List(fields.Nested(AllocationOut))
    to_credit = Amount()
    returned = fields.Boolean(
        load_default=False, metadata={"description": "the payment bounced and was reversed"}
    )
