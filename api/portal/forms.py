"""The portal's forms (WTForms), with their messages from the portal's own catalogue.

CSRF is not a field here: every POST to the portal is checked once, before
any view runs (``views.check_csrf``), so a form cannot forget it. Field
messages (required, not a date …) are looked up in :mod:`.messages` under
WTForms' English text, so they follow the page's language like everything
else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms import DateField, EmailField, Form, IntegerField, PasswordField, ValidationError
from wtforms.meta import DefaultMeta
from wtforms.validators import InputRequired, Length, Optional

from . import messages


class _Catalogue:
    """WTForms' gettext interface over :mod:`.messages` (``wtforms:`` keys)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def gettext(self, string: str) -> str:
        return messages.translate(f"wtforms:{string}", self.lang, default=string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


class _Meta(DefaultMeta):
    lang = messages.DEFAULT

    def get_translations(self, form: Form) -> _Catalogue:
        return _Catalogue(self.lang)


class PortalForm(Form):
    Meta = _Meta

    def __init__(self, formdata: MultiDict | None, lang: str, **kwargs: Any) -> None:
        super().__init__(formdata, meta={"lang": lang}, **kwargs)
        self.lang = lang


class LoginForm(PortalForm):
    email = EmailField(validators=[InputRequired(), Length(max=255)])
    password = PasswordField(validators=[InputRequired(), Length(max=1024)])


class ApplicationForm(PortalForm):
    student = IntegerField(validators=[InputRequired()])
    programme = IntegerField(validators=[InputRequired()])
    start_date = DateField(validators=[Optional()])


class StatementForm(PortalForm):
    """The statement's date range (a GET form): defaults to the last twelve months."""

    start = DateField(validators=[Optional()])
    end = DateField(validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(messages.translate("statement.range_error", self.lang))
        if self.start.data and field.data and (field.data - self.start.data).days > 3660:
            raise ValidationError(messages.translate("statement.range_too_long", self.lang))

    def dates(self, today: dt.date) -> tuple[dt.date, dt.date]:
        end = self.end.data or today
        start = self.start.data or (end - dt.timedelta(days=365))
        return start, end
