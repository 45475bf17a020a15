"""Bank statements: import a CSV export, the lines waiting for finance, assign or ignore them;
the bank and receivables reconciliations; exports of a book (CSV, XLSX, Beancount).

A statement is uploaded as multipart form data (field ``file``) or as the raw
CSV body; it is matched and posted in one transaction (see
:mod:`ledger.audit.bank_import`). A malformed file is refused 422
``bank_file_malformed`` with its line and reason, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from ledger.audit import bank_import, exports, reconcile
from ledger.audit.models import BankLine, BankStatement
from ledger.books.errors import IdempotencyConflict, NotFound
from ledger.school import cancellations
from ledger.school.models import School

from .. import audit, replay
from ..auth import actor, roles
from ..bank_schemas import (
    AgingOut,
    AsOfArgs,
    AssignIn,
    AssignOut,
    BankBalanceOut,
    BankStatementOut,
    IgnoreIn,
    IgnoreOut,
    ImportArgs,
    JournalExportArgs,
    LineListArgs,
    LinePage,
    TrialBalanceExportArgs,
)
from ..database import session
from ..models import Role
from ..schemas import encode_cursor
from ..scope import household_in_scope, school_by_id_in_scope, school_in_scope
from . import Blueprint
from .books import _idempotency_key

blp = Blueprint(
    "bank",
    __name__,
    url_prefix="/api/v1",
    description="Bank statements and matching, reconciliations, exports of a book",
)

READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)
REPLAYED = "Replay of an earlier request with the same Idempotency-Key, or the same file again"
#: A month of a school's statement is a few hundred lines; this leaves room for a year.
MAX_STATEMENT_BYTES = 8 * 1024 * 1024


# --------------------------------------------------------------------------- views


def _line_view(line: BankLine) -> dict[str, Any]:
    return {c: getattr(line, c) for c in BankLine.__table__.columns.keys()}  # noqa: SIM118


def _statement_view(statement: BankStatement) -> dict[str, Any]:
    rows = list(
        session().scalars(
            select(BankLine)
            .where(BankLine.statement_id == statement.id)
            .order_by(BankLine.line_no, BankLine.id)
        )
    )
    counts = dict.fromkeys(("matched", "unmatched", "assigned", "ignored", "outgoing"), 0)
    for line in rows:
        counts[line.status] += 1
    return {
        "id": statement.id,
        "school": session().get(School, statement.school_id).code,
        "filename": statement.filename,
        "sha256": statement.sha256,
        "encoding": statement.encoding,
        "mapping": statement.mapping,
        "lines": statement.lines,
        "already_known": statement.lines - len(rows),
        "counts": counts,
        "imported_by": statement.imported_by,
        "imported_at": statement.imported_at,
        "items": [_line_view(line) for line in rows],
    }


def _suggestion_view(line: BankLine) -> dict[str, Any] | None:
    if line.status != "unmatched":
        return None
    s = bank_import.suggest(session(), line)
    return {
        "matched": s.matched,
        "reason": s.reason,
        "household": s.household_id,
        "invoice": s.reference,
        "via": s.via,
        "candidates": list(s.candidates),
    }


# --------------------------------------------------------------------------- statements


def _upload() -> tuple[bytes, str | None]:
    """The statement's bytes: the multipart field ``file``, or the raw body."""
    request.max_content_length = MAX_STATEMENT_BYTES
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or set(request.files) != {"file"} or request.form:
            abort(
                422,
                message="send the statement as the one multipart field 'file'",
                errors={"file": ["required, and the only field"]},
                code="bank_file_missing",
            )
        return upload.read(), upload.filename
    data = request.get_data(cache=False)
    if not data:
        abort(
            422,
            message="the request has no statement: send a CSV body or a multipart 'file'",
            errors={"file": ["required"]},
            code="bank_file_missing",
        )
    return data, None


def _mapping(args: dict[str, Any]) -> tuple[bank_import.ColumnMapping, str]:
    if args["mapping"] == "custom":
        return bank_import.mapping_from_dict(json.loads(args["columns"])), "custom"
    return bank_import.MAPPINGS[args["mapping"]], args["mapping"]


@blp.route("/schools/<school>/bank-statements")
class Statements(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(ImportArgs, location="query")
    @blp.response(201, BankStatementOut)
    @blp.alt_response(200, schema=BankStatementOut, description=REPLAYED)
    def post(self, args: dict[str, Any], school: str) -> Any:
        """Import a bank statement (CSV; UTF-8 or GBK) and match its lines to households.

        Send the file as multipart field ``file`` or as the body
        (``text/csv``). ``mapping=cn_online_banking`` (default) reads the
        common export with 交易日期, 摘要, 收入金额, 支出金额, 对方户名, 对方账号,
        余额; ``mapping=custom`` reads the headers that ``columns`` names.
        Incoming lines naming an invoice or student number, with an amount
        that fits, become payments (``Dr 1002 / Cr 1122.H``); the others wait
        in 2299 (``Dr 1002 / Cr 2299``) as ``unmatched``. Money out is kept as
        ``outgoing``. The same file again answers 200 with its first import;
        lines already recorded from an overlapping statement are not recorded
        again. Requires ``Idempotency-Key``. Refused: ``bank_file_malformed``
        (with the line and reason; nothing imported), ``invalid_mapping``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        data, uploaded_name = _upload()
        mapping, mapping_name = _mapping(args)
        sha = hashlib.sha256(data).hexdigest()
        target = f"school:{s.code}/bank-statements"
        for detail in replay.details("bank_statement.import", target, key):
            if detail.get("sha256") != sha:
                raise IdempotencyConflict(
                    f"Idempotency-Key {key!r} imported another file", field="Idempotency-Key"
                )
            statement = bank_import.get_statement(session(), s, detail["statement"])
            return _statement_view(statement), 200
        result = bank_import.import_statement(
            session(),
            s,
            data,
            filename=args["filename"] or uploaded_name or "statement.csv",
            mapping=mapping,
            mapping_name=mapping_name,
            actor=actor(),
        )
        view = _statement_view(result.statement)
        if result.replayed:
            session().rollback()
            return view, 200
        audit.commit(
            "bank_statement.import",
            target,
            {
                "key": key,
                "sha256": sha,
                "statement": result.statement.id,
                "new_lines": len(result.new_lines),
                "already_known": result.already_known,
            },
        )
        return view


@blp.route("/schools/<school>/bank-statements/<int:statement_id>")
class OneStatement(MethodView):
    @roles(*READERS)
    @blp.response(200, BankStatementOut)
    def get(self, school: str, statement_id: int) -> Any:
        """An imported statement: its file's digest, encoding, mapping, and every line stored
        from it with what became of it."""
        s = school_in_scope(session(), school)
        return _statement_view(bank_import.get_statement(session(), s, statement_id))


# --------------------------------------------------------------------------- lines


@blp.route("/schools/<school>/bank-lines")
class Lines(MethodView):
    @roles(*READERS)
    @blp.arguments(LineListArgs, location="query")
    @blp.response(200, LinePage)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """The school's bank lines, oldest first; ``status=unmatched`` is finance's queue.

        Each unmatched line carries a ``suggestion``: what matching makes of it
        today (the household its numbers point at, and why the amount did not fit).
        """
        s = school_in_scope(session(), school)
        q = select(BankLine).where(BankLine.school_id == s.id)
        if args["status"] is not None:
            q = q.where(BankLine.status == args["status"])
        cursor = args["cursor"]
        if cursor is not None:
            if (
                not isinstance(cursor, list)
                or len(cursor) != 2
                or not isinstance(cursor[1], int)
                or not isinstance(cursor[0], str)
            ):
                abort(422, message="not a cursor this API returned", code="invalid_cursor")
            try:
                after_day = dt.date.fromisoformat(cursor[0])
            except ValueError:
                abort(422, message="not a cursor this API returned", code="invalid_cursor")
            q = q.where(
                (BankLine.booked_on > after_day)
                | ((BankLine.booked_on == after_day) & (BankLine.id > cursor[1]))
            )
        rows = list(
            session().scalars(q.order_by(BankLine.booked_on, BankLine.id).limit(args["limit"] + 1))
        )
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {
            "items": [{**_line_view(x), "suggestion": _suggestion_view(x)} for x in rows],
            "next_cursor": encode_cursor([rows[-1].booked_on.isoformat(), rows[-1].id])
            if more and rows
            else None,
        }


def _line_in_scope(line_id: int) -> BankLine:
    line = session().get(BankLine, line_id)
    if line is None:
        raise NotFound(f"no bank line {line_id}")
    try:
        school_by_id_in_scope(session(), line.school_id)
    except NotFound:
        raise NotFound(f"no bank line {line_id}") from None
    return line


def _assign_view(line: BankLine) -> dict[str, Any]:
    from ledger.school.models import Invoice, Payment, PaymentAllocation

    payment = session().get(Payment, line.payment_id)
    allocations = session().execute(
        select(Invoice.number, PaymentAllocation.amount)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id == payment.id)
        .order_by(Invoice.issued_on, Invoice.seq)
    )
    items = [{"invoice": n, "amount": a} for n, a in allocations]
    return {
        "line": _line_view(line),
        "payment": payment.id,
        "entry": payment.entry_id,
        "allocations": items,
        "to_credit": payment.amount - sum(i["amount"] for i in items),
    }


@blp.route("/bank-lines/<int:line_id>/assign")
class AssignLine(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(AssignIn)
    @blp.response(201, AssignOut)
    @blp.alt_response(200, schema=AssignOut, description=REPLAYED)
    def post(self, data: dict[str, Any], line_id: int) -> Any:
        """Assign an unmatched line to a household: it becomes the household's payment.

        ``Dr 2299 / Cr 1122.H`` (2241.H for what no invoice asks), dated ``on``;
        the named ``invoice`` is settled first, then the oldest open ones.
        Requires ``Idempotency-Key``. Refused: ``bank_line_not_waiting``
        (matched, assigned, ignored or money out), ``invoice_not_open``.
        """
        line = _line_in_scope(line_id)
        key = _idempotency_key(required=True)
        target = f"bank-line:{line.id}"
        if replay.seen("bank_line.assign", target, key):
            return _assign_view(line), 200
        household = household_in_scope(session(), data["household"])
        school = session().get(School, line.school_id)
        invoice = (
            cancellations.get_invoice(session(), school, data["invoice"])
            if data["invoice"]
            else None
        )
        bank_import.assign_line(
            session(),
            line,
            household,
            on=data["on"] or dt.date.today(),
            actor=actor(),
            invoice=invoice,
        )
        view = _assign_view(line)
        audit.commit(
            "bank_line.assign",
            target,
            {"key": key, "household": household.id, "payment": line.payment_id},
        )
        return view


@blp.route("/bank-lines/<int:line_id>/ignore")
class IgnoreLine(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(IgnoreIn)
    @blp.response(201, IgnoreOut)
    @blp.alt_response(200, schema=IgnoreOut, description=REPLAYED)
    def post(self, data: dict[str, Any], line_id: int) -> Any:
        """Ignore an unmatched line, with a note: its suspense entry is reversed
        (``Dr 2299 / Cr 1002``), dated ``on`` — the money is recorded elsewhere (a subsidy
        receipt, a payment entered by hand) or is not the programme's.

        Requires ``Idempotency-Key``. Refused: ``bank_line_not_waiting``, ``note_required``.
        """
        line = _line_in_scope(line_id)
        key = _idempotency_key(required=True)
        target = f"bank-line:{line.id}"
        for detail in replay.details("bank_line.ignore", target, key):
            return {"line": _line_view(line), "entry": detail["entry"]}, 200
        entry = bank_import.ignore_line(
            session(), line, note=data["note"], on=data["on"] or dt.date.today(), actor=actor()
        )
        view = {"line": _line_view(line), "entry": entry}
        audit.commit("bank_line.ignore", target, {"key": key, "entry": entry})
        return view


# --------------------------------------------------------------------------- reconciliation


@blp.route("/schools/<school>/receivables-aging")
class Aging(MethodView):
    @roles(*READERS)
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, AgingOut)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """Household receivables aging as of a date: 0–30, 31–60, 61–90 and over 90 days
        past each invoice's due date (not yet due counts in 0–30 and in ``not_yet_due``), per
        household and in total, against the households' receivable 1122 in the books."""
        s = school_in_scope(session(), school)
        return reconcile.receivables_aging(session(), s, args["as_of"] or dt.date.today())


@blp.route("/schools/<school>/bank-reconciliation")
class BankReconciliation(MethodView):
    @roles(*READERS)
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, BankBalanceOut)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """The balance on the last statement line booked on or before ``as_of`` against the
        bank account 1002 in the books that day, and the difference; with the money out on
        the statement, the lines ignored and those still waiting in 2299 up to that day.

        Subsidy claims against receipts: ``GET /schools/{school}/subsidy-reconciliation``."""
        s = school_in_scope(session(), school)
        return reconcile.bank_balance(session(), s, args["as_of"] or dt.date.today())


# --------------------------------------------------------------------------- exports


def _download(body: str | bytes, mimetype: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/books/<book>/exports/journal.csv")
class JournalCsv(MethodView):
    @roles(*READERS)
    @blp.arguments(JournalExportArgs, location="query")
    @blp.response(200, content_type=CSV, description="one row per posting")
    def get(self, args: dict[str, Any], book: str) -> Response:
        """The journal as CSV (UTF-8 with BOM): one row per posting, in journal order,
        optionally the entries dated ``from``..``to``; text that a spreadsheet would run as a
        formula is prefixed with ``'``."""
        body = exports.journal_csv(session(), g.book, args["from_"], args["to"])
        return _download("\ufeff" + body, CSV, f"journal-{book}.csv")


@blp.route("/books/<book>/exports/journal.xlsx")
class JournalXlsx(MethodView):
    @roles(*READERS)
    @blp.arguments(JournalExportArgs, location="query")
    @blp.response(200, content_type=XLSX, description="one row per posting")
    def get(self, args: dict[str, Any], book: str) -> Response:
        """The journal as XLSX: amounts as numbers (yuan, two decimals), dates as dates."""
        body = exports.journal_xlsx(session(), g.book, args["from_"], args["to"])
        return _download(body, XLSX, f"journal-{book}.xlsx")


@blp.route("/books/<book>/exports/trial-balance.csv")
class TrialBalanceCsv(MethodView):
    @roles(*READERS)
    @blp.arguments(TrialBalanceExportArgs, location="query")
    @blp.response(200, content_type=CSV, description="each account's own balance")
    def get(self, args: dict[str, Any], book: str) -> Response:
        """The trial balance as CSV (UTF-8 with BOM), as of a date if given, with a total."""
        body = exports.trial_balance_csv(session(), g.book, args["as_of"])
        return _download("\ufeff" + body, CSV, f"trial-balance-{book}.csv")


@blp.route("/books/<book>/exports/trial-balance.xlsx")
class TrialBalanceXlsx(MethodView):
    @roles(*READERS)
    @blp.arguments(TrialBalanceExportArgs, location="query")
    @blp.response(200, content_type=XLSX, description="each account's own balance")
    def get(self, args: dict[str, Any], book: str) -> Response:
        """The trial balance as XLSX, as of a date if given, with a total row."""
        body = exports.trial_balance_xlsx(session(), g.book, args["as_of"])
        return _download(body, XLSX, f"trial-balance-{book}.xlsx")


@blp.route("/books/<book>/exports/book.beancount")
class BeancountExport(MethodView):
    @roles(*READERS)
    @blp.response(200, content_type="text/plain", description="a Beancount ledger")
    def get(self, book: str) -> Response:
        """The whole book in Beancount's plain-text format, for Fava: accounts opened, one
        transaction per entry with its id, number and hash as metadata, and closing balance
        assertions that ``bean-check`` verifies."""
        body = exports.beancount_text(session(), g.book)
        return _download(body, "text/plain", f"{book}.beancount")
