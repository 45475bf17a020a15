"""``kehou billing run``: the billing run from the command line, with progress on stderr."""

from __future__ import annotations

from school_setup import (
    assert_books_sound,
    enrolled_student,
    entries_count,
    programme,
    school_with_term,
    standard_and_policy,
)


def _term_with_students(db, n: int = 3):  # type: ignore[no-untyped-def]
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    for i in range(n):
        enrolled_student(db, district, school, term, prog, f"学生{i}")
    db.commit()
    return school, term


def _run(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["billing", "run", *args])


def test_a_run_reports_progress_and_totals_and_runs_once(app, db):
    school, term = _term_with_students(db)
    args = ("--school", "S1", "--term", str(term.id), "--issued-on", "2026-09-01")
    dry = _run(app, *args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("would bill 3 charge(s)")
    assert entries_count(db, school) == 0

    first = _run(app, *args)
    assert first.exit_code == 0, (first.stdout, first.stderr)
    # 1,200.00 per student: government 50 % = 600.00, school 200.00, parent 400.00.
    assert "billed 3 charge(s) on 3 invoice(s)" in first.stdout
    assert "cost 3600.00, government 1800.00, school 600.00, household 1200.00" in first.stdout
    assert "posting 0/3" in first.stderr and "posting 3/3" in first.stderr
    assert entries_count(db, school) == 3

    again = _run(app, *args)
    assert again.exit_code == 0
    assert "billed 0 charge(s) on 0 invoice(s)" in again.stdout
    assert "3 already billed" in again.stdout
    assert entries_count(db, school) == 3
    assert_books_sound(db, school)


def test_bad_arguments_are_refused_and_write_nothing(app, db):
    school, term = _term_with_students(db, 1)
    r = _run(app, "--school", "NOPE", "--term", str(term.id))
    assert r.exit_code != 0 and "no school NOPE" in r.stderr
    r = _run(app, "--school", "S1", "--term", str(term.id + 1000))
    assert r.exit_code != 0 and f"no term {term.id + 1000}" in r.stderr
    r = _run(app, "--school", "S1", "--term", str(term.id), "--month", "2026-13")
    assert r.exit_code != 0 and "'2026-13' is not YYYY-MM" in r.stderr
    assert entries_count(db, school) == 0
