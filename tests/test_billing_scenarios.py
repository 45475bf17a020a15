"""Whole terms narrated with the expected balances worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from school_setup import (
    D,
    assert_books_sound,
    balance,
    enrolled_student,
    entries_count,
    programme,
    school_with_term,
    standard_and_policy,
)

from ledger.school import billing, payments, structure, waivers
from ledger.school.errors import RuleBroken


def test_hardship_waivers_covered_by_the_government(db):
    # Cost 1200.00 a term: government 50 % (600.00), school 200.00, parents 400.00
    # (standard 500.00). Wang pays in full, Li is a verified hardship student (pays
    # nothing), Zhao has an approved 50 % waiver. The government covers waivers.
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    _, wang_home, _ = enrolled_student(db, district, school, term, prog, "王小明")
    li, li_home, _ = enrolled_student(db, district, school, term, prog, "李小红")
    structure.verify_hardship(
        db,
        li,
        evidence_ref="民政困难证明 2026-031",
        verified_by="fin@test",
        valid_from=D(2026, 8, 1),
        valid_to=D(2027, 7, 31),
    )
    zhao, zhao_home, _ = enrolled_student(db, district, school, term, prog, "赵小刚")
    w = waivers.request_waiver(
        db,
        zhao,
        percent=5000,
        reason="家庭变故",
        evidence_ref="村委证明",
        valid_from=D(2026, 9, 1),
        valid_to=D(2027, 1, 31),
        actor="clerk@test",
    )
    waivers.decide_waiver(db, w, approve=True, actor="head@test")

    result = billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))

    assert len(result.charges) == 3
    assert balance(db, school, "1123.DS1") == 60000 + 100000 + 80000
    assert balance(db, school, "1124") == 3 * 20000
    assert balance(db, school, structure.household_account(wang_home.id)) == 40000
    assert balance(db, school, structure.household_account(zhao_home.id)) == 20000
    assert balance(db, school, "1122") == 60000  # Li has no household line at all
    assert balance(db, school, "4001.basic_care") == -360000
    invoices = {h: amount for h, _, amount in result.invoices}
    assert invoices == {wang_home.id: 40000, li_home.id: 0, zhao_home.id: 20000}
    assert_books_sound(db, school)


def test_percentage_remainder_fen_goes_to_the_government_not_the_parent(db):
    # 100.01 a month, government 30 %, school 30 %, parents 40 %: 3000.3 / 3000.3 /
    # 4000.4 fen. Rounded down that leaves one fen, which the largest remainder
    # would give the parent; the rule gives it to the government.
    district, school, term = school_with_term(
        db, start=D(2026, 9, 1), end=D(2026, 9, 30), billing_months=1
    )
    standard_and_policy(
        db,
        district,
        unit="month",
        standard=4001,
        unit_cost=10001,
        government=("percent", 3000),
        school_share=("percent", 3000),
    )
    prog = programme(db, school, term)
    _, home, _ = enrolled_student(db, district, school, term, prog, "钱多多")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    assert balance(db, school, "1123.DS1") == 3001
    assert balance(db, school, "1124") == 3000
    assert balance(db, school, structure.household_account(home.id)) == 4000
    assert_books_sound(db, school)


def test_per_lesson_programme_counts_sessions_times_lessons(db):
    # Enrichment at 15.00 per 课时, two 课时 a session, Mondays and Wednesdays only.
    # September 2026 has 9 such days (Mon 7,14,21,28; Wed 2,9,16,23,30) but the
    # Mid-Autumn holiday on Friday 25th does not touch them: 9 × 2 × 15.00 = 270.00.
    district, school, term = school_with_term(
        db, start=D(2026, 9, 1), end=D(2026, 9, 30), billing_months=1
    )
    structure.set_calendar_day(db, term, D(2026, 9, 25), "holiday", "中秋节")
    standard_and_policy(
        db,
        district,
        kind="enrichment",
        unit="lesson",
        standard=1500,
        unit_cost=1500,
        government=("amount", 0),
        school_share=("amount", 0),
    )
    prog = programme(db, school, term, kind="enrichment", lessons=2, weekdays="13")
    _, home, _ = enrolled_student(db, district, school, term, prog, "孙悟空")
    result = billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    charge = result.charges[0].charge
    assert (charge.period_days, charge.enrolled_days, charge.cost) == (9, 9, 27000)
    assert balance(db, school, structure.household_account(home.id)) == 27000
    assert_books_sound(db, school)


def test_billing_again_posts_nothing_new(db):
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    enrolled_student(db, district, school, term, prog, "周一")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    before = entries_count(db, school)
    again = billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 2))
    assert again.charges == [] and again.already_billed == 1
    assert entries_count(db, school) == before


def test_dry_run_shows_the_result_and_writes_nothing(db):
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    enrolled_student(db, district, school, term, prog, "吴二")
    before = entries_count(db, school)
    dry = billing.run_billing(
        db, school, term, actor="fin@test", issued_on=D(2026, 9, 1), dry_run=True
    )
    assert dry.dry_run and dry.totals["cost"] == 120000 and dry.invoices == []
    assert entries_count(db, school) == before


def test_payment_spans_two_invoices_and_leaves_credit(db):
    # Monthly billing at 300.00 a month, parents pay all of it. September and
    # October invoices (300.00 each); the household pays 700.00: both settle,
    # 100.00 is household credit.
    district, school, term = school_with_term(db)
    standard_and_policy(
        db,
        district,
        unit="month",
        standard=30000,
        unit_cost=30000,
        government=("amount", 0),
        school_share=("amount", 0),
    )
    prog = programme(db, school, term)
    _, home, _ = enrolled_student(db, district, school, term, prog, "郑好")
    sep = billing.run_billing(
        db, school, term, actor="fin@test", month=(2026, 9), issued_on=D(2026, 9, 1)
    )
    oct_ = billing.run_billing(
        db, school, term, actor="fin@test", month=(2026, 10), issued_on=D(2026, 10, 1)
    )
    assert [a for _, _, a in sep.invoices + oct_.invoices] == [30000, 30000]
    paid = payments.record_payment(
        db,
        school,
        home,
        amount=70000,
        received_on=D(2026, 10, 8),
        method="wechat",
        actor="fin@test",
        reference=oct_.invoices[0][1],
    )
    # The named (October) invoice first, then the oldest open one.
    assert paid.allocations == [(oct_.invoices[0][1], 30000), (sep.invoices[0][1], 30000)]
    assert paid.credit == 10000
    assert balance(db, school, structure.household_account(home.id)) == 0
    assert balance(db, school, structure.household_credit_account(home.id)) == -10000
    assert balance(db, school, "1002") == 70000
    assert_books_sound(db, school)


def test_payment_into_a_vendor_account_is_refused_and_writes_nothing(db):
    district, school, term = school_with_term(db)
    home = structure.create_household(db, district, "某家")
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        payments.record_payment(
            db,
            school,
            home,
            amount=100,
            received_on=D(2026, 9, 1),
            method="wechat",
            actor="fin@test",
            received_into="2202",
        )
    assert err.value.code == "payment_not_to_school_account"
    assert entries_count(db, school) == before


def test_waiver_approved_by_its_requester_is_refused(db):
    district, school, term = school_with_term(db)
    student = structure.create_student(
        db, school, structure.create_household(db, district, "X"), name="X"
    )
    w = waivers.request_waiver(
        db,
        student,
        percent=10000,
        reason="r",
        evidence_ref="e",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 12, 31),
        actor="same@test",
    )
    with pytest.raises(RuleBroken) as err:
        waivers.decide_waiver(db, w, approve=True, actor="same@test")
    assert err.value.code == "same_approver"
    assert w.status == "requested"


def test_no_charge_without_an_approved_application(db):
    from ledger.school import enrolment

    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    student = structure.create_student(
        db, school, structure.create_household(db, district, "Y"), name="Y"
    )
    app = enrolment.apply(db, student, prog, applied_by="parent@test")
    enrolment.review(db, app, approve=True, actor="teacher@test")  # reviewed, not approved
    result = billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    assert result.charges == []


def test_billing_a_closed_period_is_refused(db):
    from ledger import books

    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    enrolled_student(db, district, school, term, prog, "冯一")
    book = db.get(books.Book, school.book_id)
    period = books.create_period(db, book, start=D(2026, 9, 1), end=D(2026, 9, 30))
    books.close_period(db, book, period.id, actor="fin@test")
    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        billing.run_billing(
            db, school, term, actor="fin@test", month=(2026, 9), issued_on=D(2026, 9, 1)
        )
    assert err.value.code == "period_closed"
    assert entries_count(db, school) == before


def test_parent_share_above_the_standard_is_refused(db):
    district, school, term = school_with_term(db)
    with pytest.raises(RuleBroken) as err:
        standard_and_policy(db, district, standard=30000)  # parents would pay 400.00 > 300.00
    assert err.value.code == "parent_share_above_standard"


def test_policy_outside_the_standards_dates_is_refused(db):
    from ledger.school import standards

    district, school, term = school_with_term(db)
    fee = standards.create_fee_standard(
        db,
        district=district,
        kind="basic_care",
        amount=50000,
        unit="term",
        authority="发改委",
        document_no="X〔2026〕1号",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 12, 31),
        actor="fin@test",
    )
    with pytest.raises(RuleBroken) as err:
        standards.create_cost_policy(
            db,
            district=district,
            kind="basic_care",
            fee_standard=fee,
            effective_from=D(2026, 9, 1),
            effective_to=D(2027, 1, 15),
            unit="term",
            unit_cost=50000,
            government=("amount", 0),
            school_share=("amount", 0),
            waiver_cover="absorbed",
            refund_rule="daily",
            actor="fin@test",
        )
    assert err.value.code == "outside_standard_validity"


def test_oversubscribed_programme_admits_priority_groups_first(db):
    from ledger.school import enrolment

    district, school, term = school_with_term(db)
    prog = programme(db, school, term, capacity=2)
    apps = {}
    for name, flags in [
        ("甲", {}),
        ("乙", {"migrant": True}),
        ("丙", {}),
        ("丁", {"left_behind": True}),
    ]:
        s = structure.create_student(
            db, school, structure.create_household(db, district, name), name=name, **flags
        )
        a = enrolment.apply(db, s, prog, applied_by="parent@test")
        enrolment.review(db, a, approve=True, actor="teacher@test")
        apps[name] = a
    enrolled, waiting = enrolment.admit(db, prog, actor="school@test")
    assert {e.application_id for e in enrolled} == {apps["乙"].id, apps["丁"].id}
    assert {a.id for a in waiting} == {apps["甲"].id, apps["丙"].id}
    assert all(apps[n].status == "waitlisted" for n in ("甲", "丙"))


def test_enrolment_starting_mid_month_is_prorated_by_service_days(db):
    # 300.00 a month; September 2026 has 22 service days; enrolled from Monday 14th:
    # 13 days → 300.00 × 13 / 22 = 177.2727… → 177.27, rounded once.
    district, school, term = school_with_term(db)
    standard_and_policy(
        db,
        district,
        unit="month",
        standard=30000,
        unit_cost=30000,
        government=("amount", 0),
        school_share=("amount", 0),
    )
    prog = programme(db, school, term)
    _, home, _ = enrolled_student(db, district, school, term, prog, "陈晚到", start=D(2026, 9, 14))
    result = billing.run_billing(
        db, school, term, actor="fin@test", month=(2026, 9), issued_on=D(2026, 9, 14)
    )
    c = result.charges[0].charge
    assert (c.period_days, c.enrolled_days, c.cost) == (22, 13, 17727)


def test_withdrawal_under_daily_rule_credits_unused_days_split_as_charged(db):
    # September only: 22 service days, 220.00 for the term, government 50 %, parents 50 %.
    # Withdrawn from Monday 21st: 8 unused days (21–25, 28–30) → 220.00 × 8 / 22 = 80.00,
    # split 40.00 government / 40.00 household, which reduces the unpaid invoice.
    from ledger.school import credits, enrolment

    district, school, term = school_with_term(
        db, start=D(2026, 9, 1), end=D(2026, 9, 30), billing_months=1
    )
    standard_and_policy(
        db,
        district,
        standard=11000,
        unit_cost=22000,
        government=("percent", 5000),
        school_share=("amount", 0),
    )
    prog = programme(db, school, term)
    _, home, enr = enrolled_student(db, district, school, term, prog, "何走")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    enrolment.withdraw(db, enr, effective=D(2026, 9, 21), actor="parent@test")
    [credit] = credits.credit_withdrawal(db, enr, actor="fin@test")
    assert (credit.total, credit.government, credit.household, credit.to_invoice) == (
        8000,
        4000,
        4000,
        4000,
    )
    assert balance(db, school, "1123.DS1") == 7000
    assert balance(db, school, structure.household_account(home.id)) == 7000
    assert balance(db, school, "4001.basic_care") == -14000
    assert_books_sound(db, school)


@pytest.mark.parametrize(
    ("days", "expected"),
    [(14, 0), (15, 15000), (29, 15000), (30, 30000), (44, 30000), (45, 45000)],
)
def test_absence_under_half_month_rule(db, days, expected):
    # 1200.00 a term of 4 billing months → 300.00 a month, parents pay all of it.
    # d // 30 months plus half a month when d % 30 >= 15.
    from ledger.school import credits, enrolment

    district, school, term = school_with_term(db)
    standard_and_policy(
        db,
        district,
        standard=120000,
        unit_cost=120000,
        government=("amount", 0),
        school_share=("amount", 0),
        refund_rule="half_month",
    )
    prog = programme(db, school, term)
    _, home, enr = enrolled_student(db, district, school, term, prog, "病假")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    start = D(2026, 10, 8)
    end = start + dt.timedelta(days=days - 1)
    enrolment.report_absence(db, enr, start=start, end=end, actor="parent@test")
    record = credits.credit_absence(db, enr, start=start, end=end, actor="fin@test")
    assert (record.total if record else 0) == expected
    assert balance(db, school, structure.household_account(home.id)) == 120000 - expected
    assert_books_sound(db, school)


def test_the_last_place_is_taken_once_and_a_withdrawal_gives_it_back(db):
    from ledger.school import enrolment
    from ledger.school.errors import Conflict
    from ledger.school.models import Programme

    district, school, term = school_with_term(db)
    prog = programme(db, school, term, capacity=1)
    apps = []
    for name in ("甲", "乙"):
        s = structure.create_student(
            db, school, structure.create_household(db, district, name), name=name
        )
        a = enrolment.apply(db, s, prog, applied_by="parent@test")
        enrolment.review(db, a, approve=True, actor="teacher@test")
        apps.append(a)
    first = enrolment.decide(db, apps[0], approve=True, actor="school@test")
    with pytest.raises(Conflict) as err:
        enrolment.decide(db, apps[1], approve=True, actor="school@test")
    assert err.value.code == "programme_full"
    assert apps[1].status == "reviewed"  # refused: the application waits, nothing taken
    assert db.get(Programme, prog.id).places_taken == 1
    enrolment.withdraw(db, first, effective=D(2026, 10, 8), actor="school@test")
    assert db.get(Programme, prog.id).places_taken == 0
    assert enrolment.decide(db, apps[1], approve=True, actor="school@test") is not None
    assert db.get(Programme, prog.id).places_taken == 1
