"""Schemas of bank statements and lines, reconciliation reports and exports."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger.audit.bank_import import MAPPINGS
from ledger.audit.models import BANK_LINE_STATUSES

from .errors import note_rule
from .schemas import Amount, Cursor, Page, Strict, UtcDateTime
from .school_schemas import AllocationOut

MAPPING_NAMES = [*MAPPINGS, "custom"]


class ImportArgs(Strict):
    mapping = fields.String(
        load_default="cn_online_banking",
        validate=validate.OneOf(MAPPING_NAMES),
        metadata={"description": "a ready column mapping, or ``custom`` with ``columns``"},
    )
    columns = fields.String(
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={
            "description": 'with ``mapping=custom``: a JSON object such as {"date": "记账日期", '
            '"description": "附言", "income": "贷方发生额", "expense": "借方发生额", '
            '"counterparty_name": "对方户名", "counterparty_account": "对方账号", '
            '"balance": "余额", "delimiter": ","}; income and expense may name one '
            "signed column"
        },
    )
    filename = fields.String(load_default=None, validate=validate.Length(min=1, max=255))

    @validates_schema
    def _columns_with_custom(self, data: dict[str, Any], **kw: Any) -> None:
        custom = data.get("mapping") == "custom"
        if custom and not data.get("columns"):
            note_rule("invalid_mapping")
            raise ValidationError("mapping=custom needs columns", "columns")
        if not custom and data.get("columns"):
            note_rule("invalid_mapping")
            raise ValidationError("columns are given only with mapping=custom", "columns")
        if custom:
            try:
                parsed = json.loads(data["columns"])
            except ValueError:
                note_rule("invalid_mapping")
                raise ValidationError("columns must be a JSON object", "columns") from None
            if not isinstance(parsed, dict):
                note_rule("invalid_mapping")
                raise ValidationError("columns must be a JSON object", "columns")


class BankLineOut(Schema):
    id = fields.Integer()
    statement = fields.Integer(attribute="statement_id")
    line_no = fields.Integer(metadata={"description": "the line of the file it was read from"})
    booked_on = fields.Date()
    description = fields.String()
    income = Amount()
    expense = Amount()
    counterparty_name = fields.String(allow_none=True)
    counterparty_account = fields.String(allow_none=True)
    balance = Amount(signed=True, allow_none=True)
    status = fields.String(metadata={"enum": list(BANK_LINE_STATUSES)})
    household = fields.Integer(attribute="household_id", allow_none=True)
    payment = fields.Integer(attribute="payment_id", allow_none=True)
    note = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)


class SuggestionOut(Schema):
    matched = fields.Boolean()
    reason = fields.String()
    household = fields.Integer(allow_none=True)
    invoice = fields.String(allow_none=True)
    via = fields.String(allow_none=True)
    candidates = fields.List(fields.Integer())


class WaitingLineOut(BankLineOut):
    suggestion = fields.Nested(
        SuggestionOut,
        allow_none=True,
        metadata={"description": "for unmatched lines: what matching makes of it today, and why"},
    )


class BankStatementOut(Schema):
    id = fields.Integer()
    school = fields.String()
    filename = fields.String()
    sha256 = fields.String()
    encoding = fields.String()
    mapping = fields.String()
    lines = fields.Integer(metadata={"description": "transaction lines in the file"})
    already_known = fields.Integer(
        metadata={"description": "lines recorded before by another statement (not again)"}
    )
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    imported_by = fields.String()
    imported_at = UtcDateTime()
    items = fields.List(fields.Nested(BankLineOut))


class LineListArgs(Strict):
    status = fields.String(load_default=None, validate=validate.OneOf(list(BANK_LINE_STATUSES)))
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000, error="limit must be between 1 and 1000"),
    )
    cursor = Cursor(load_default=None)


class LinePage(Page):
    items = fields.List(fields.Nested(WaitingLineOut))


class AssignIn(Strict):
    household = fields.Integer(required=True, validate=validate.Range(min=1))
    invoice = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    on = fields.Date(
        load_default=None,
        metadata={"description": "the date of the entry out of 2299 (default: today)"},
    )


class AssignOut(Schema):
    line = fields.Nested(BankLineOut)
    payment = fields.Integer()
    entry = fields.Integer()
    allocations = fields.List(fields.Nested(AllocationOut))
    to_credit = Amount()


class IgnoreIn(Strict):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    on = fields.Date(
        load_default=None,
        metadata={"description": "the date of the reversal out of 2299 (default: today)"},
    )


class IgnoreOut(Schema):
    line = fields.Nested(BankLineOut)
    entry = fields.Integer(metadata={"description": "the reversal of the suspense entry"})


# --------------------------------------------------------------------------- reports


class AsOfArgs(Strict):
    as_of = fields.Date(load_default=None, metadata={"description": "default: today"})


class BucketsOut(Schema):
    d0_30 = Amount(data_key="0-30", attribute="0-30")
    d31_60 = Amount(data_key="31-60", attribute="31-60")
    d61_90 = Amount(data_key="61-90", attribute="61-90")
    over_90 = Amount(attribute="over_90")


class AgingInvoiceOut(Schema):
    number = fields.String()
    due_date = fields.Date()
    days_past_due = fields.Integer()
    bucket = fields.String()
    outstanding = Amount()


class AgingHouseholdOut(Schema):
    household = fields.Integer(attribute="household_id")
    name = fields.String()
    buckets = fields.Nested(BucketsOut)
    total = Amount()
    invoices = fields.List(fields.Nested(AgingInvoiceOut))


class AgingOut(Schema):
    school = fields.String(attribute="school_code")
    as_of = fields.Date()
    households = fields.List(fields.Nested(AgingHouseholdOut))
    totals = fields.Nested(BucketsOut)
    total = Amount()
    not_yet_due = Amount()
    books_receivable = Amount(signed=True)
    difference = Amount(signed=True)


class LineTotalOut(Schema):
    count = fields.Integer()
    amount = Amount()


class BankBalanceOut(Schema):
    school = fields.String(attribute="school_code")
    as_of = fields.Date()
    line = fields.Integer(attribute="line_id", allow_none=True)
    statement = fields.Integer(attribute="statement_id", allow_none=True)
    booked_on = fields.Date(allow_none=True)
    statement_balance = Amount(signed=True, allow_none=True)
    book_balance = Amount(signed=True)
    difference = Amount(signed=True, allow_none=True)
    outgoing = fields.Nested(LineTotalOut)
    ignored = fields.Nested(LineTotalOut)
    unmatched = fields.Nested(LineTotalOut)


class JournalExportArgs(Strict):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)


class TrialBalanceExportArgs(Strict):
    as_of = fields.Date(load_default=None)
