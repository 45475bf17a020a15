"""Schemas of the documents' routes: the statement as JSON, and the query of every PDF."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from .schemas import Amount, Strict

LANGUAGE = fields.String(
    load_default="zh-CN",
    validate=validate.OneOf(("zh-CN", "en")),
    metadata={"description": "Document language: Chinese first, English on request"},
)


class PdfArgs(Strict):
    lang = LANGUAGE


class StatementArgs(Strict):
    start = fields.Date(required=True, data_key="from", metadata={"description": "First day"})
    end = fields.Date(required=True, data_key="to", metadata={"description": "Last day"})

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start" in data and "end" in data and data["end"] < data["start"]:
            raise ValidationError("the statement ends before it starts", field_name="to")


class StatementPdfArgs(StatementArgs):
    lang = LANGUAGE


class StatementSchool(Strict):
    code = fields.String()
    name = fields.String()
    bank_name = fields.String()
    bank_account = fields.String()
    complaints_phone = fields.String()


class StatementLine(Strict):
    date = fields.Date()
    school = fields.String(metadata={"description": "Code of the school whose books moved"})
    entry = fields.Integer(metadata={"description": "The journal entry behind the line"})
    kind = fields.String(
        metadata={
            "description": "charge, waiver, credit, cancellation, payment, payment_returned, "
            "credit_applied, credit_application_undone, refund, write_off or adjustment"
        }
    )
    amount = Amount(signed=True, metadata={"description": "What the household owes more (+)"})
    balance = Amount(signed=True, metadata={"description": "Running balance owed"})
    receivable_change = Amount(signed=True)
    credit_change = Amount(signed=True)
    invoice = fields.String(allow_none=True)
    student = fields.String(allow_none=True)
    programme = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    charge = fields.Integer(allow_none=True)
    payment = fields.Integer(allow_none=True)
    applied = Amount(allow_none=True, metadata={"description": "Credit applied (net 0)"})
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)


class StatementOut(Strict):
    household = fields.Integer()
    household_name = fields.String()
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    schools = fields.List(fields.Nested(StatementSchool))
    opening_balance = Amount(signed=True, metadata={"description": "Owed (+) or credit (-)"})
    opening_receivable = Amount(signed=True)
    opening_credit = Amount(signed=True)
    lines = fields.List(fields.Nested(StatementLine))
    totals = fields.Dict(keys=fields.String(), values=Amount(signed=True))
    closing_balance = Amount(signed=True)
    closing_receivable = Amount(signed=True, metadata={"description": "1122.H balance"})
    closing_credit = Amount(signed=True, metadata={"description": "2241.H credit held"})


class PayoutSheetPdfArgs(Strict):
    month = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month is written YYYY-MM"),
        metadata={"example": "2026-09"},
    )
    lang = LANGUAGE
