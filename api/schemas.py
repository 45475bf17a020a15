"""marshmallow schemas: money and enums as strings, ISO 8601 dates, unknown fields refused."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from ledger.books.models import AccountType, EntryKind
from ledger.money import InvalidAmount, format_fen, parse_amount

from .errors import note_rule
from .models import Role

AMOUNT_PATTERN = r"^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$"


class Amount(fields.Field):
    """A positive amount of money as a string such as ``"12.34"``, loaded as integer fen."""

    def __init__(self, *, signed: bool = False, **kwargs: Any) -> None:
        pattern = r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$" if signed else AMOUNT_PATTERN
        metadata = {"type": "string", "pattern": pattern, "example": "123.45"}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_fen(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_amount(value)
        except InvalidAmount as exc:
            note_rule(exc.code)
            raise ValidationError(exc.message) from exc


class UtcDateTime(fields.DateTime):
    """An instant as ISO 8601 with its offset (RFC 3339 ``date-time``).

    The database keeps naive UTC (:func:`ledger.books.models.utcnow`), which plain
    ``fields.DateTime`` would print without an offset: a time a client cannot place.
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


#: The whole numbers a column can hold (BIGINT, SQLite INTEGER); past them the driver fails.
WHOLE_NUMBER = validate.Range(min=-(2**63 - 1), max=2**63 - 1)


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        """Every whole number of a request fits a column: a larger id answers 422, not 500."""
        if isinstance(field_obj, fields.Integer):
            field_obj.validators = [*field_obj.validators, WHOLE_NUMBER]

    @pre_load
    def _refuse_nul(self, data: Any, **kwargs: Any) -> Any:
        """No text may hold NUL: PostgreSQL cannot store it (SQLite can), so refuse it on both."""
        if isinstance(data, Mapping):
            bad = {
                k: ["must not contain NUL characters"]
                for k, v in data.items()
                if isinstance(v, str) and "\x00" in v
            }
            if bad:
                raise ValidationError(bad)
        return data


# --------------------------------------------------------------------------- lists


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        note_rule("invalid_cursor")
        raise ValidationError("not a cursor this API returned") from None


class Cursor(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return decode_cursor(super()._deserialize(value, attr, data, **kwargs))


class ListArgs(Strict):
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000, error="limit must be between 1 and 1000"),
    )
    cursor = Cursor(load_default=None)


class Page(Schema):
    next_cursor = fields.String(allow_none=True)


# --------------------------------------------------------------------------- books


class BookIn(Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BookOut(Schema):
    code = fields.String()
    name = fields.String()
    created_at = UtcDateTime()
    entries = fields.Integer(attribute="last_number")


class BookPage(Page):
    items = fields.List(fields.Nested(BookOut))


class AccountIn(Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in AccountType]))
    parent = fields.String(load_default=None, allow_none=True)


class AccountOut(Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String()
    parent = fields.String(allow_none=True)
    owner = fields.String(allow_none=True)
    is_closed = fields.Boolean()
    closed_at = UtcDateTime(allow_none=True)


class AccountPage(Page):
    items = fields.List(fields.Nested(AccountOut))


class BalanceArgs(Strict):
    as_of = fields.Date(load_default=None)


class BalanceOut(Schema):
    account = fields.String()
    as_of = fields.Date(allow_none=True)
    debit = Amount()
    credit = Amount()
    balance = Amount(signed=True)


class PostingIn(Strict):
    account = fields.String(required=True, validate=validate.Length(min=1, max=64))
    direction = fields.String(required=True, validate=validate.OneOf(["debit", "credit"]))
    amount = Amount(required=True)


_POSTABLE_KINDS = [k.value for k in EntryKind if k is not EntryKind.REVERSAL]


class EntryIn(Strict):
    effective_date = fields.Date(required=True)
    memo = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    kind = fields.String(load_default="adjustment", validate=validate.OneOf(_POSTABLE_KINDS))
    source_ref = fields.String(load_default=None, validate=validate.Length(max=200))
    postings = fields.List(fields.Nested(PostingIn), required=True)


class PostingOut(Schema):
    account = fields.String()
    direction = fields.String()
    amount = Amount()


class EntryOut(Schema):
    id = fields.Integer()
    number = fields.Integer()
    kind = fields.String()
    effective_date = fields.Date()
    recorded_at = UtcDateTime()
    posted_by = fields.String()
    memo = fields.String()
    source_ref = fields.String(allow_none=True)
    reverses = fields.Integer(allow_none=True)
    reversed_by = fields.Integer(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()
    postings = fields.List(fields.Nested(PostingOut))


class EntryPage(Page):
    items = fields.List(fields.Nested(EntryOut))


class EntryListArgs(ListArgs):
    account = fields.String(load_default=None)
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf([k.value for k in EntryKind]))


class ReverseIn(Strict):
    effective_date = fields.Date(load_default=None)
    memo = fields.String(load_default=None, validate=validate.Length(min=1, max=2000))


class PeriodIn(Strict):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class PeriodOut(Schema):
    id = fields.Integer()
    start = fields.Date()
    end = fields.Date()
    is_closed = fields.Boolean()
    closed_at = UtcDateTime(allow_none=True)
    closed_by = fields.String(allow_none=True)


class PeriodList(Schema):
    items = fields.List(fields.Nested(PeriodOut))
    next_cursor = fields.String(allow_none=True)


class TrialBalanceLineOut(Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String()
    debit = Amount()
    credit = Amount()


class TrialBalanceOut(Schema):
    as_of = fields.Date(allow_none=True)
    items = fields.List(fields.Nested(TrialBalanceLineOut))
    total_debit = Amount()
    total_credit = Amount()


class ChainOut(Schema):
    ok = fields.Boolean()
    entries_checked = fields.Integer()
    first_bad_entry = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


# --------------------------------------------------------------------------- users, audit


class UserIn(Strict):
    email = fields.String(required=True, validate=validate.Length(min=3, max=255))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    is_active = fields.Boolean()
    created_at = UtcDateTime()


class UserPage(Page):
    items = fields.List(fields.Nested(UserOut))


class TokenOut(Schema):
    user = fields.Nested(UserOut)
    token = fields.String(metadata={"description": "shown once; only its hash is kept"})


class RevokedOut(Schema):
    user = fields.Nested(UserOut)
    revoked = fields.Integer()


class AuditOut(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    actor = fields.String()
    action = fields.String()
    target = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    method = fields.String(allow_none=True)
    path = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)


class AuditPage(Page):
    items = fields.List(fields.Nested(AuditOut))


class ProblemOut(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String()
    errors = fields.Dict()
    request_id = fields.String()
