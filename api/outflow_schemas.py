"""Schemas of the money-out endpoints: staff, hours, rates, pay runs, vendors, payouts."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from .schemas import Amount, Strict

MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month is written YYYY-MM")


class MonthArgs(Strict):
    month = fields.String(required=True, validate=MONTH, metadata={"example": "2026-09"})


class StaffIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(
        required=True, validate=validate.OneOf(["teacher", "external", "volunteer"])
    )
    id_type = fields.String(load_default=None)
    id_number = fields.String(load_default=None, validate=validate.Length(max=40))
    bank_account = fields.String(load_default=None, validate=validate.Length(max=40))


class StaffOut(Schema):
    id = fields.Integer()
    school = fields.String()
    name = fields.String()
    kind = fields.String()
    id_type = fields.String(allow_none=True)
    id_number = fields.String(
        allow_none=True, metadata={"description": "masked except to finance of the school"}
    )


class StaffList(Schema):
    items = fields.List(fields.Nested(StaffOut))


class PayRateIn(Strict):
    staff_kind = fields.String(required=True, validate=validate.OneOf(["teacher", "external"]))
    programme_kind = fields.String(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(["hour", "lesson"]))
    amount = Amount(required=True)
    monthly_cap = Amount(load_default=None)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class PayRateOut(Schema):
    id = fields.Integer()
    staff_kind = fields.String()
    programme_kind = fields.String()
    unit = fields.String()
    amount = Amount()
    monthly_cap = Amount(allow_none=True)
    valid_from = fields.Date()
    valid_to = fields.Date()


class HoursIn(Strict):
    staff = fields.Integer(required=True)
    programme = fields.Integer(required=True)
    day = fields.Date(required=True)
    start = fields.Time(required=True, metadata={"example": "15:30"})
    end = fields.Time(required=True, metadata={"example": "17:30"})
    lessons = fields.Integer(load_default=None, validate=validate.Range(min=0))


class HoursOut(Schema):
    id = fields.Integer()
    staff = fields.Integer(attribute="staff_id")
    programme = fields.Integer(attribute="programme_id")
    day = fields.Date(attribute="service_date")
    start = fields.Time(attribute="start_time", format="%H:%M")
    end = fields.Time(attribute="end_time", format="%H:%M")
    minutes = fields.Integer()
    lessons = fields.Integer()
    status = fields.String()
    logged_by = fields.String()
    decided_by = fields.String(allow_none=True)
    pay_line = fields.Integer(attribute="pay_line_id", allow_none=True)


class HoursList(Schema):
    items = fields.List(fields.Nested(HoursOut))


class HoursQuery(MonthArgs):
    staff = fields.Integer(load_default=None)


class DecideIn(Strict):
    approve = fields.Boolean(required=True)


class PayRunIn(Strict):
    month = fields.String(required=True, validate=MONTH)
    on = fields.Date(required=True, metadata={"description": "date of the entries"})


class PayLineOut(Schema):
    id = fields.Integer()
    staff = fields.Integer(attribute="staff_id")
    kind = fields.String()
    minutes = fields.Integer()
    lessons = fields.Integer()
    capped = Amount()
    gross = Amount()
    taxable = fields.String(metadata={"description": "exact taxable income of the month, yuan"})
    tax = Amount()
    net = Amount()
    month_gross = Amount()
    month_tax = Amount()
    entry = fields.Integer(attribute="entry_id", allow_none=True)


class PayRunOut(Schema):
    run = fields.Integer(allow_none=True)
    month = fields.String()
    lines = fields.List(fields.Nested(PayLineOut))
    already_paid_sessions = fields.Integer()


class SessionOut(Schema):
    hours_id = fields.Integer()
    date = fields.String()
    programme = fields.String()
    start = fields.String()
    end = fields.String()
    minutes = fields.Integer()
    lessons = fields.Integer()
    unit = fields.String()
    rate = Amount()
    amount = fields.String(metadata={"description": "exact amount in fen, before rounding"})


class SheetLineOut(Schema):
    id = fields.Integer()
    run = fields.Integer()
    kind = fields.String()
    minutes = fields.Integer()
    lessons = fields.Integer()
    gross = Amount()
    tax = Amount()
    net = Amount()
    capped = Amount()
    entry = fields.Integer(allow_none=True)
    sessions = fields.List(fields.Nested(SessionOut))


class PayoutSheetOut(Schema):
    staff = fields.Integer()
    name = fields.String()
    kind = fields.String()
    year = fields.Integer()
    month = fields.Integer()
    lines = fields.List(fields.Nested(SheetLineOut))
    gross = Amount()
    tax = Amount()
    net = Amount()


class TaxLineOut(Schema):
    staff = fields.Integer()
    name = fields.String()
    id_type = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    gross = Amount()
    taxable = fields.String()
    tax = Amount()
    net = Amount()
    payments = fields.Integer()


class TaxReportOut(Schema):
    school = fields.String()
    month = fields.String()
    items = fields.List(fields.Nested(TaxLineOut))
    gross = Amount()
    tax = Amount()
    net = Amount()


class VendorIn(Strict):
    name = fields.String(required=True)
    uscc = fields.String(required=True, metadata={"description": "统一社会信用代码, 18 characters"})
    qualification = fields.String(required=True)
    services = fields.String(required=True)
    approved_price = Amount(required=True)
    price_unit = fields.String(
        required=True, validate=validate.OneOf(["student_lesson", "session"])
    )
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class VendorOut(Schema):
    id = fields.Integer()
    district = fields.String()
    name = fields.String()
    uscc = fields.String()
    qualification = fields.String()
    services = fields.String()
    approved_price = Amount()
    price_unit = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date()
    status = fields.String()


class VendorList(Schema):
    items = fields.List(fields.Nested(VendorOut))


class VendorStatusIn(Strict):
    status = fields.String(
        required=True, validate=validate.OneOf(["active", "suspended", "removed"])
    )
    effective = fields.Date(required=True)
    reason = fields.String(required=True)


class AgreementIn(Strict):
    vendor = fields.Integer(required=True)
    programme = fields.Integer(required=True)
    reference = fields.String(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(["student_lesson", "session"]))
    price = Amount(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    cap = Amount(load_default=None)


class AgreementOut(Schema):
    id = fields.Integer()
    vendor = fields.Integer(attribute="vendor_id")
    programme = fields.Integer(attribute="programme_id")
    reference = fields.String()
    unit = fields.String()
    price = Amount()
    start = fields.Date()
    end = fields.Date()
    cap = Amount(allow_none=True)


class BillIn(Strict):
    vendor = fields.Integer(required=True)
    agreement = fields.Integer(load_default=None)
    reference = fields.String(required=True, metadata={"description": "the vendor's bill number"})
    service_date = fields.Date(required=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))
    unit_price = Amount(required=True)


class BillOut(Schema):
    id = fields.Integer()
    vendor = fields.Integer(attribute="vendor_id")
    agreement = fields.Integer(attribute="agreement_id")
    reference = fields.String()
    service_date = fields.Date()
    quantity = fields.Integer()
    unit_price = Amount()
    amount = Amount()
    entry = fields.Integer(attribute="entry_id")


class PayoutItemIn(Strict):
    source = fields.String(
        required=True, validate=validate.OneOf(["pay_line", "tax", "vendor_bill"])
    )
    id = fields.Integer(required=True)


class BatchIn(Strict):
    method = fields.String(
        required=True,
        validate=validate.OneOf(["bank_transfer", "payroll_transfer", "tax_remittance"]),
    )
    reference = fields.String(load_default=None)
    items = fields.List(fields.Nested(PayoutItemIn), required=True)

    @validates("items")
    def _some(self, value, data_key, **kw):  # type: ignore[no-untyped-def]
        if not value:
            raise ValidationError("a batch pays at least one payable")


class PayIn(Strict):
    paid_on = fields.Date(required=True)


class PayoutItemOut(Schema):
    source = fields.String()
    id = fields.Integer(attribute="source_id")
    account = fields.String()
    payee = fields.String()
    amount = Amount()


class BatchOut(Schema):
    id = fields.Integer()
    method = fields.String()
    reference = fields.String(allow_none=True)
    status = fields.String()
    total = Amount()
    paid_on = fields.Date(allow_none=True)
    entry = fields.Integer(attribute="entry_id", allow_none=True)
    items = fields.List(fields.Nested(PayoutItemOut))


class FundUseArgs(Strict):
    term = fields.Integer(required=True)


class FundUseOut(Schema):
    school = fields.String()
    term = fields.Integer()
    start = fields.Date()
    end = fields.Date()
    income = fields.Dict(keys=fields.String(), values=Amount(signed=True))
    total_income = Amount(signed=True)
    fees_earned = Amount(signed=True)
    waivers_absorbed = Amount(signed=True)
    spending = fields.Dict(keys=fields.String(), values=Amount(signed=True))
    total_spending = Amount(signed=True)
    people_share_percent = fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={
            "type": "string",
            "description": "stipends and labour fees ÷ all spending, per cent; null if none",
            "example": "87.23",
        },
    )
    balance = Amount(signed=True)
