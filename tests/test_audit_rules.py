"""Every audit rule: a clean term has no findings; then, one at a time, a violation is
written straight into the database (behind the application's back) and exactly its
rule finds it, with its evidence.

Each injection happens inside a savepoint that is rolled back, so every case
starts from the same clean term.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from school_setup import (
    D,
    enrolled_student,
    programme,
    school_with_term,
    standard_and_policy,
)
from sqlalchemy import func, select, text

from ledger import books
from ledger.audit.rules import RULES, acknowledge, run_audit, scope_for
from ledger.books import journal
from ledger.school import billing, payments, payouts, payroll, vendors
from ledger.school.models import ChargeRecord, ServiceHours

T = dt.time


class Clean:
    """A billed and paid term with hours, a stipend, a vendor bill and a payout."""

    def __init__(self, db):  # type: ignore[no-untyped-def]
        district, school, term = school_with_term(db)
        standard_and_policy(db, district)
        prog = programme(db, school, term)
        self.students = [
            enrolled_student(db, district, school, term, prog, name) for name in ("甲", "乙", "丙")
        ]
        # The applications were made, reviewed and approved in August, before the term.
        for at, column in ((8, "applied_at"), (9, "reviewed_at"), (10, "decided_at")):
            _sql(db, f"UPDATE applications SET {column} = :at", at=dt.datetime(2026, 8, 25, at))
        billing.run_billing(db, school, term, actor="fin", issued_on=D(2026, 9, 1))
        _, home, _ = self.students[0]
        payments.record_payment(
            db, school, home, amount=40000, received_on=D(2026, 9, 5), method="cash", actor="fin"
        )
        payments.record_payment(
            db,
            school,
            home,
            amount=100000,
            received_on=D(2026, 9, 5),
            method="cash",
            actor="fin",
            reference="top-up",
        )
        teacher = payroll.create_staff(db, school, name="王老师", kind="teacher", actor="fin")
        payroll.create_pay_rate(
            db,
            school,
            staff_kind="teacher",
            programme_kind="basic_care",
            unit="hour",
            amount=5000,
            valid_from=D(2026, 9, 1),
            valid_to=D(2027, 1, 15),
            actor="fin",
        )
        for day in (1, 2):
            h = payroll.log_hours(
                db,
                school,
                teacher,
                prog,
                day=D(2026, 9, day),
                start=T(15, 30),
                end=T(17, 30),
                actor="fin",
            )
            payroll.approve_hours(db, h, approve=True, actor="fin")
        [line] = payroll.run_pay(db, school, 2026, 9, on=D(2026, 9, 30), actor="fin").lines
        vendor = vendors.create_vendor(
            db,
            district,
            name="绿茵体育",
            uscc="91330100716105852F",
            qualification="体育",
            services="足球",
            approved_price=8000,
            price_unit="session",
            valid_from=D(2026, 9, 1),
            valid_to=D(2026, 12, 31),
            actor="fin",
        )
        vendors.create_agreement(
            db,
            school,
            vendor_id=vendor.id,
            programme=prog,
            reference="A-1",
            unit="session",
            price=7500,
            start=D(2026, 9, 1),
            end=D(2026, 12, 31),
            actor="fin",
        )
        bill = vendors.record_bill(
            db,
            school,
            vendor_id=vendor.id,
            agreement_id=None,
            reference="G-1",
            service_date=D(2026, 9, 30),
            quantity=2,
            unit_price=7500,
            actor="fin",
        )
        batch = payouts.create_batch(
            db,
            school,
            method="bank_transfer",
            items=[("pay_line", line.id), ("vendor_bill", bill.id)],
            actor="fin",
        )
        payouts.pay_batch(db, batch, paid_on=D(2026, 10, 8), actor="fin")
        db.commit()
        self.school, self.term, self.prog, self.bill = school, term, prog, bill
        self.book = db.get(books.Book, school.book_id)

    def audit(self, db):  # type: ignore[no-untyped-def]
        return run_audit(db, scope_for(db, [self.school], self.term.start, self.term.end))

    def charge(self, db, index: int = 0) -> ChargeRecord:  # type: ignore[no-untyped-def]
        _, _, enr = self.students[index]
        return db.scalar(select(ChargeRecord).where(ChargeRecord.enrolment_id == enr.id))


@pytest.fixture
def clean(db):  # type: ignore[no-untyped-def]
    return Clean(db)


def test_a_clean_term_has_no_findings(db, clean):
    assert clean.audit(db) == []


def _sql(db, statement: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    db.execute(text(statement), params)


def _drop_entry_guards(db) -> None:  # type: ignore[no-untyped-def]
    """Inside the savepoint only: let an entry be changed, as someone with database access could."""
    if db.bind.dialect.name == "sqlite":
        _sql(db, "DROP TRIGGER entries_no_update")
    else:
        _sql(db, "DROP TRIGGER entries_immutable ON entries")


def _post(db, clean, kind: str, postings, day=D(2026, 9, 20)):  # type: ignore[no-untyped-def]
    return books.post_entry(
        db,
        clean.book.id,
        books.EntryDraft(
            effective_date=day,
            memo=f"injected {kind}",
            kind=kind,
            postings=[books.PostingDraft(c, a) for c, a in postings],
        ),
        actor="intruder",
    )


def _home(clean) -> int:  # type: ignore[no-untyped-def]
    return clean.students[1][1].id


# Each: the rule, what to write, the subject the finding names, evidence it must carry.
def inject_no_consent(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    _, _, enr = clean.students[1]
    _sql(db, "UPDATE applications SET status = 'rejected' WHERE id = :id", id=enr.application_id)
    c = clean.charge(db, 1)
    return f"charge:{c.id}", {"application": {"status": "rejected"}}


def inject_consent_after_service(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    _, _, enr = clean.students[1]
    _sql(
        db,
        "UPDATE applications SET decided_at = :at WHERE id = :id",
        at=dt.datetime(2026, 9, 15, 9, 0),
        id=enr.application_id,
    )
    return f"charge:{clean.charge(db, 1).id}", {
        "application": {"decided_at": "2026-09-15T09:00:00"}
    }


def inject_household_adjustment(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    posted = _post(db, clean, "adjustment", [(f"1122.H{_home(clean)}", 5000), ("4001", -5000)])
    return f"entry:{posted.entry_id}", {"posted_by": "intruder"}


def inject_above_standard(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    c = clean.charge(db, 2)
    _sql(
        db,
        "UPDATE charges SET parent = parent + 20000, household = household + 20000, "
        "government = government - 20000 "
        "WHERE id = :id",
        id=c.id,
    )
    return f"charge:{c.id}", {"fee_standard": {"document_no": "示发改价〔2026〕12号"}}


def inject_waiver_ignored(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    student, _, _ = clean.students[2]
    _sql(
        db,
        "INSERT INTO hardship_statuses (student_id, evidence_ref, verified_by, verified_at, "
        "valid_from, valid_to) VALUES (:s, '民政-低保-9', 'fin', :at, :f, :t)",
        s=student.id,
        at=dt.datetime(2026, 8, 1),
        f=D(2026, 8, 1),
        t=D(2027, 7, 31),
    )
    return f"charge:{clean.charge(db, 2).id}", {"evidence": "民政-低保-9"}


def inject_duplicate_charge(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    c = clean.charge(db, 0)
    columns = [
        col.name for col in ChargeRecord.__table__.columns if col.name not in ("id", "generation")
    ]
    _sql(
        db,
        f"INSERT INTO charges ({', '.join(columns)}, generation) "  # noqa: S608
        f"SELECT {', '.join(columns)}, 1 FROM charges WHERE id = :id",
        id=c.id,
    )
    copy = db.scalar(select(func.max(ChargeRecord.id)))
    return f"charges:{c.id},{copy}", {"charges": [c.id, copy]}


def inject_charge_after_withdrawal(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    # The withdrawal is effective on the charge's first day (the first day the student
    # no longer attends): the whole period is after the enrolment, the boundary case.
    _, _, enr = clean.students[1]
    charge = clean.charge(db, 1)
    day = charge.period_start
    _sql(db, "UPDATE enrolments SET end_date = :d WHERE id = :id", d=day, id=enr.id)
    return f"charge:{charge.id}", {"end_date": day.isoformat()}


def inject_payment_to_vendor(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    posted = _post(db, clean, "payment", [("2202", 10000), (f"1122.H{_home(clean)}", -10000)])
    return f"entry:{posted.entry_id}", {"memo": "injected payment"}


def inject_bill_above_price(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    _sql(
        db,
        "UPDATE vendor_bills SET unit_price = 7600, amount = quantity * 7600 WHERE id = :id",
        id=clean.bill.id,
    )
    return f"vendor_bill:{clean.bill.id}", {"unit_price": 7600}


def inject_paid_holiday(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    _sql(
        db,
        "INSERT INTO calendar_days (term_id, day, kind, note) VALUES (:t, :d, 'holiday', 'x')",
        t=clean.term.id,
        d=D(2026, 9, 2),
    )
    h = db.scalar(select(ServiceHours).where(ServiceHours.service_date == D(2026, 9, 2)))
    return f"hours:{h.id}", {"date": "2026-09-02"}


def inject_unbalanced_entry(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(journal, "check_draft", lambda draft: None)
    if db.bind.dialect.name == "postgresql":
        _sql(db, "DROP TRIGGER postings_checked ON postings")
    posted = _post(db, clean, "adjustment", [("1002", 10000), ("4001", -9999)])
    return f"entry:{posted.entry_id}", {"sum": 1}


def inject_balance_mismatch(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    account = books.get_account(db, clean.book, "5003")
    _sql(db, "UPDATE balances SET debit = debit + 1 WHERE account_id = :a", a=account.id)
    return f"account:{clean.school.code}:5003", {"account": "5003"}


def inject_broken_chain(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    _drop_entry_guards(db)
    _sql(
        db,
        "UPDATE entries SET memo = 'edited' WHERE id = (SELECT MIN(id) FROM entries "
        "WHERE book_id = :b)",
        b=clean.book.id,
    )
    return f"book:{clean.school.code}", {"report": {"ok": False}}


def inject_entry_after_close(db, clean, monkeypatch):  # type: ignore[no-untyped-def]
    period = books.create_period(db, clean.book, start=D(2026, 9, 1), end=D(2026, 9, 30))
    books.close_period(db, clean.book, period.id, actor="fin")
    # Closed just after the last entry so far was recorded; the injected one comes later.
    last = db.scalar(
        text("SELECT MAX(recorded_at) FROM entries WHERE book_id = :b"), {"b": clean.book.id}
    )
    _sql(db, "UPDATE periods SET closed_at = :at WHERE id = :id", at=last, id=period.id)
    monkeypatch.setattr(journal, "_check_open_period", lambda *a, **k: None)
    posted = _post(db, clean, "adjustment", [("1002", 100), ("3001", -100)], day=D(2026, 9, 29))
    return f"entry:{posted.entry_id}", {"period": period.id}


CASES: list[tuple[str, Callable]] = [
    ("charge_without_consent", inject_no_consent),
    ("charge_without_consent", inject_consent_after_service),
    ("household_adjustment", inject_household_adjustment),
    ("charge_above_standard", inject_above_standard),
    ("charged_despite_waiver", inject_waiver_ignored),
    ("duplicate_charge", inject_duplicate_charge),
    ("charge_outside_enrolment", inject_charge_after_withdrawal),
    ("payment_not_to_school_bank", inject_payment_to_vendor),
    ("vendor_bill_not_allowed", inject_bill_above_price),
    ("pay_for_invalid_hours", inject_paid_holiday),
    ("unbalanced_entry", inject_unbalanced_entry),
    ("balance_mismatch", inject_balance_mismatch),
    ("broken_chain", inject_broken_chain),
    ("entry_in_closed_period", inject_entry_after_close),
]


def test_every_rule_has_an_injected_case():
    assert {rule for rule, _ in CASES} == {r.code for r in RULES}


def _contains(actual: object, expected: object) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in expected.items()
        )
    return actual == expected


@pytest.mark.parametrize(("rule", "inject"), CASES, ids=[f.__name__ for _, f in CASES])
def test_each_violation_is_found_by_exactly_its_rule(db, clean, monkeypatch, rule, inject):
    savepoint = db.begin_nested()
    try:
        subject, evidence = inject(db, clean, monkeypatch)
        db.flush()
        db.expire_all()
        findings = clean.audit(db)
        assert [(f.rule, f.subject) for f in findings] == [(rule, subject)], findings
        [finding] = findings
        assert _contains(finding.evidence, evidence), finding.evidence
        assert finding.severity == next(r.severity for r in RULES if r.code == rule)
        assert finding.summary and finding.school == clean.school.code
    finally:
        savepoint.rollback()
        monkeypatch.undo()
    db.expire_all()
    assert clean.audit(db) == []


def test_a_finding_is_acknowledged_with_a_note_and_still_reported(db, clean, monkeypatch):
    subject, _ = inject_household_adjustment(db, clean, monkeypatch)
    acknowledge(
        db, rule="household_adjustment", subject=subject, note="退费更正, 见凭证", actor="aud"
    )
    [finding] = clean.audit(db)
    assert finding.acknowledged["note"] == "退费更正, 见凭证"
    from ledger.school.errors import Conflict

    with pytest.raises(Conflict):
        acknowledge(db, rule="household_adjustment", subject=subject, note="again", actor="aud")


def test_the_scope_limits_the_run_to_its_dates(db, clean, monkeypatch):
    subject, _ = inject_household_adjustment(db, clean, monkeypatch)  # dated 2026-09-20
    september = run_audit(db, scope_for(db, [clean.school], D(2026, 9, 1), D(2026, 9, 30)))
    october = run_audit(db, scope_for(db, [clean.school], D(2026, 10, 1), D(2026, 10, 31)))
    assert [f.subject for f in september] == [subject]
    assert [f.subject for f in october if f.rule == "household_adjustment"] == []
