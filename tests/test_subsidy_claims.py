"""Claiming the government's share, receiving it, and reconciling claim by claim and per student.

September is the whole term (22 service days, one billing month). Cost 1200.00:
government 50 % (600.00), school 200.00, parents 400.00; the government covers
waivers. 王 pays in full, 李 is a verified hardship student (the government takes
over her 400.00), 赵 has a 50 % waiver (the government takes over 200.00):

    government shares   王 600.00   李 1000.00   赵 800.00   = 2400.00
"""

from __future__ import annotations

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
from sqlalchemy import func, select

from ledger.school import billing, credits, enrolment, structure, subsidies, waivers
from ledger.school.errors import RuleBroken
from ledger.school.models import SubsidyClaim, SubsidyReceipt


def september_class(db):
    district, school, term = school_with_term(
        db, start=D(2026, 9, 1), end=D(2026, 9, 30), billing_months=1
    )
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    wang, _, wang_enr = enrolled_student(db, district, school, term, prog, "王")
    li, _, _ = enrolled_student(db, district, school, term, prog, "李")
    structure.verify_hardship(
        db,
        li,
        evidence_ref="民政 2026-031",
        verified_by="fin@test",
        valid_from=D(2026, 8, 1),
        valid_to=D(2027, 7, 31),
    )
    zhao, _, _ = enrolled_student(db, district, school, term, prog, "赵")
    w = waivers.request_waiver(
        db,
        zhao,
        percent=5000,
        reason="家庭变故",
        evidence_ref="村委证明",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 9, 30),
        actor="clerk@test",
    )
    waivers.decide_waiver(db, w, approve=True, actor="head@test")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    return district, school, term, prog, {"王": wang, "李": li, "赵": zhao}, wang_enr


def claim_september(db, school):
    return subsidies.create_claim(
        db,
        school,
        period_start=D(2026, 9, 1),
        period_end=D(2026, 9, 30),
        claimed_on=D(2026, 10, 8),
        actor="fin@test",
    )


def test_a_claim_lists_each_students_government_share_and_posts_nothing(db):
    _, school, _, _, students, _ = september_class(db)
    before = entries_count(db, school)

    claim = claim_september(db, school)

    assert (claim.number, claim.amount, claim.status) == ("S1-SC-2026-0001", 240000, "submitted")
    lines = {line.student_id: line.amount for line in subsidies.claim_lines(db, claim)}
    assert lines == {students["王"].id: 60000, students["李"].id: 100000, students["赵"].id: 80000}
    assert entries_count(db, school) == before
    assert balance(db, school, "1123.DS1") == 240000


def test_partial_receipts_clear_the_receivable_and_never_exceed_the_claim(db):
    _, school, _, _, _, _ = september_class(db)
    claim = claim_september(db, school)

    subsidies.record_subsidy_receipt(
        db, claim, amount=100000, received_on=D(2026, 11, 2), actor="fin@test", reference="国库"
    )
    assert claim.status == "partially_received"
    assert balance(db, school, "1123.DS1") == 140000
    assert balance(db, school, "1002") == 100000

    before = entries_count(db, school)
    with pytest.raises(RuleBroken) as err:
        subsidies.record_subsidy_receipt(
            db, claim, amount=150000, received_on=D(2026, 11, 20), actor="fin@test"
        )
    assert err.value.code == "receipt_exceeds_claim"
    assert entries_count(db, school) == before
    assert db.scalar(select(func.count()).select_from(SubsidyReceipt)) == 1

    subsidies.record_subsidy_receipt(
        db, claim, amount=140000, received_on=D(2026, 11, 20), actor="fin@test"
    )
    assert claim.status == "received"
    assert balance(db, school, "1123.DS1") == 0
    assert balance(db, school, "1002") == 240000
    rec = subsidies.reconcile_claim(db, claim)
    assert (rec.claimed, rec.received, rec.outstanding, rec.due) == (240000, 240000, 0, 240000)
    assert rec.differences == []
    assert_books_sound(db, school)


def test_a_receipt_repeated_with_its_idempotency_key_is_recorded_once(db):
    _, school, _, _, _, _ = september_class(db)
    claim = claim_september(db, school)
    kwargs = dict(amount=50000, received_on=D(2026, 11, 2), actor="fin@test")
    first = subsidies.record_subsidy_receipt(db, claim, idempotency_key="treasury-77", **kwargs)
    again = subsidies.record_subsidy_receipt(db, claim, idempotency_key="treasury-77", **kwargs)
    assert again.id == first.id
    assert balance(db, school, "1002") == 50000


def test_a_period_claimed_already_has_nothing_left_to_claim(db):
    _, school, _, _, _, _ = september_class(db)
    claim_september(db, school)
    with pytest.raises(RuleBroken) as err:
        claim_september(db, school)
    assert err.value.code == "nothing_to_claim"
    assert db.scalar(select(func.count()).select_from(SubsidyClaim)) == 1


def test_reconciliation_lists_per_student_what_changed_after_the_claim(db):
    # After claiming 2400.00, 王 withdraws from Monday 21st: 8 of 22 days unused,
    # 1200.00 × 8 / 22 = 436.36 credited, split 600 : 200 : 400 by largest remainder:
    # government 218.18, school 72.73, household 145.45. The government now owes
    # 381.82 for 王, 21.818 less than claimed. 钱 enrols later and is billed in a second
    # run: 600.00 not claimed yet. The treasury pays the 2400.00 claimed.
    district, school, term, prog, students, wang_enr = september_class(db)
    claim = claim_september(db, school)
    enrolment.withdraw(db, wang_enr, effective=D(2026, 9, 21), actor="parent@test")
    [credit] = credits.credit_withdrawal(db, wang_enr, actor="fin@test")
    assert (credit.total, credit.government, credit.school, credit.household) == (
        43636,
        21818,
        7273,
        14545,
    )
    qian, _, _ = enrolled_student(db, district, school, term, prog, "钱")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    subsidies.record_subsidy_receipt(
        db, claim, amount=240000, received_on=D(2026, 11, 2), actor="fin@test"
    )

    rec = subsidies.reconcile_school(db, school)

    [one] = rec.claims
    assert (one.claimed, one.received, one.outstanding, one.due) == (240000, 240000, 0, 218182)
    assert [(d.student_name, d.claimed, d.due, d.difference) for d in one.differences] == [
        ("王", 60000, 38182, -21818)
    ]
    assert [(u.student_id, u.due) for u in rec.unclaimed] == [(qian.id, 60000)]
    # 1123: 2400.00 + 600.00 billed − 218.18 credited − 2400.00 received = 381.82
    assert rec.books_balance == 38182 == balance(db, school, "1123.DS1")
    assert rec.expected_balance == 38182 and rec.unexplained == 0
    assert [(d.student_name, d.difference) for d in rec.differences] == [("王", -21818)]

    second = claim_september(db, school)
    assert (second.number, second.amount) == ("S1-SC-2026-0002", 60000)
    rec = subsidies.reconcile_school(db, school)
    assert rec.unclaimed == [] and rec.claimed == 300000 and rec.outstanding == 60000
    assert rec.unexplained == 0
    assert_books_sound(db, school)


def test_a_late_waiver_raises_the_governments_share_after_the_claim(db):
    # 王's family gets a full waiver after the claim: his 400.00 moves to the government,
    # which now owes 1000.00 for him; the claim asked for 600.00.
    _, school, _, _, students, _ = september_class(db)
    claim = claim_september(db, school)
    w = waivers.request_waiver(
        db,
        students["王"],
        percent=10000,
        reason="失业",
        evidence_ref="证明",
        valid_from=D(2026, 9, 1),
        valid_to=D(2026, 9, 30),
        actor="clerk@test",
    )
    waivers.decide_waiver(db, w, approve=True, actor="head@test")
    credits.credit_late_waiver(db, w, actor="fin@test", effective=D(2026, 10, 10))
    rec = subsidies.reconcile_claim(db, claim)
    assert rec.due == 280000 and rec.difference == 40000
    assert [(d.student_name, d.difference) for d in rec.differences] == [("王", 40000)]
    assert subsidies.reconcile_school(db, school).unexplained == 0
    assert_books_sound(db, school)
