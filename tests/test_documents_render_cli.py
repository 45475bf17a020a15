"""``kehou documents render``: a period's fee notices on every core, archived once, re-runnable."""

from __future__ import annotations

import datetime as dt

from pdf_helpers import flat, pdf_text
from school_setup import enrolled_student, programme, school_with_term, standard_and_policy
from sqlalchemy import func, select

from invoices.models import IssuedDocument
from ledger.school import billing
from ledger.school.models import DocumentCounter, Invoice


def _monthly_term(db):  # type: ignore[no-untyped-def]
    """Three households billed month by month for September and October."""
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    for name in ("甲", "乙", "丙"):
        enrolled_student(db, district, school, term, prog, name)
    for month in ((2026, 9), (2026, 10)):
        billing.run_billing(
            db, school, term, actor="fin", month=month, issued_on=dt.date(*month, 1)
        )
    db.commit()
    return school, term


def _render(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["documents", "render", *args])


def _issued(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(IssuedDocument))


def test_a_month_of_notices_is_rendered_archived_and_written_once(app, db, tmp_path):
    school, term = _monthly_term(db)
    october = list(
        db.scalars(
            select(Invoice)
            .where(Invoice.period_start == dt.date(2026, 10, 1))
            .order_by(Invoice.seq)
        )
    )
    assert len(october) == 3
    out = tmp_path / "out"
    first = _render(app, "--school", "S1", "--period", "2026-10", "--out", str(out))
    assert first.exit_code == 0, (first.stdout, first.stderr)
    assert "3 fee notice(s)" in first.stdout and "3 rendered, 0 already issued" in first.stdout
    assert "rendered 3/3" in first.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"{i.number}.pdf" for i in october]
    pdfs = {name: (out / name).read_bytes() for name in files}
    for invoice, name in zip(october, files, strict=True):
        text = pdf_text(pdfs[name])
        assert invoice.number in text
        others = [i.number for i in october if i is not invoice]
        assert not any(number in text for number in others)  # one notice per file
        assert "2026年10月1日" in text and "¥100.00" in text  # 400.00 a term of 4 months
        assert "壹佰元整" in flat(text)
    names = {pdf_text(pdfs[n]).split("家庭")[1].split()[0] for n in files}
    assert names == {"甲家", "乙家", "丙家"}
    assert _issued(db) == 3

    counter = db.get(DocumentCounter, (school.id, "invoice", 2026)).last
    again = _render(app, "--school", "S1", "--period", "2026-10", "--out", str(out))
    assert again.exit_code == 0, again.stderr
    assert "0 rendered, 3 already issued" in again.stdout
    assert {name: (out / name).read_bytes() for name in files} == pdfs
    assert _issued(db) == 3
    assert db.get(DocumentCounter, (school.id, "invoice", 2026)).last == counter

    # The whole term: the September notices are new, October's are already issued.
    term_run = _render(app, "--school", "S1", "--period", f"term:{term.id}", "--out", str(out))
    assert term_run.exit_code == 0, term_run.stderr
    assert (
        "6 fee notice(s)" in term_run.stdout and "3 rendered, 3 already issued" in term_run.stdout
    )
    assert _issued(db) == 6
    english = _render(
        app,
        "--school",
        "S1",
        "--period",
        "2026-09",
        "--out",
        str(out),
        "--lang",
        "en",
        "--workers",
        "1",
    )
    assert english.exit_code == 0, english.stderr
    september = db.scalars(
        select(Invoice.number).where(Invoice.period_start == dt.date(2026, 9, 1))
    ).all()
    assert len(september) == 3
    for number in september:
        assert "Amount due" in pdf_text((out / f"{number}.en.pdf").read_bytes())


def test_bad_arguments_are_refused_and_issue_nothing(app, db, tmp_path):
    _, term = _monthly_term(db)
    for args, message in (
        (("--school", "NOPE", "--period", "2026-10"), "no school NOPE"),
        (("--school", "S1", "--period", "2026-13"), "no month 13"),
        (("--school", "S1", "--period", "October"), "period is YYYY-MM or term:<id>"),
        (("--school", "S1", "--period", f"term:{term.id + 99}"), f"no term {term.id + 99}"),
    ):
        r = _render(app, *args, "--out", str(tmp_path / "x"))
        assert r.exit_code != 0 and message in r.stderr, (args, r.stderr)
    assert _issued(db) == 0
    assert not (tmp_path / "x").exists()
