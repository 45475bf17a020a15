"""The household statement (对账单) and "why this amount", from the books and the domain tables.

A term at 第S1小学: 1,200.00 per term, government 50 %, school 200.00, parent
400.00 under a 500.00 standard. Household 甲乙家 has two children: 甲 from the
first day with a 50 % waiver (单亲家庭), 乙 from 8 October, so 乙's charge is
prorated by service days. The household pays 500.00 on 10 September; 乙
withdraws on 1 December (a daily-rule credit, which goes to household credit
because the invoice is paid); the school refunds 20.00 of that credit.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from school_setup import enrolled_student, programme, school_with_term, standard_and_policy
from sqlalchemy import select

from invoices.data import charge_explanation, statement
from ledger.school import billing, credits, enrolment, payments, waivers
from ledger.school.models import ChargeRecord, Enrolment

D = dt.date


@pytest.fixture
def term(db):  # type: ignore[no-untyped-def]
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    prog = programme(db, school, term)
    jia, home, _ = enrolled_student(db, district, school, term, prog, "甲")
    yi, _, _ = enrolled_student(
        db, district, school, term, prog, "乙", household=home, start=D(2026, 10, 8)
    )
    home.name = "甲乙家"
    grant = waivers.request_waiver(
        db,
        jia,
        percent=5000,
        reason="单亲家庭",
        evidence_ref="民政-01",
        valid_from=D(2026, 9, 1),
        valid_to=D(2027, 1, 31),
        actor="fin@test",
    )
    waivers.decide_waiver(db, grant, approve=True, actor="head@test")
    billing.run_billing(db, school, term, actor="fin@test", issued_on=D(2026, 9, 1))
    payments.record_payment(
        db, school, home, amount=50000, received_on=D(2026, 9, 10), method="wechat", actor="fin"
    )
    yi_enrolment = db.scalar(select(Enrolment).where(Enrolment.student_id == yi.id))
    enrolment.withdraw(db, yi_enrolment, effective=D(2026, 12, 1), actor="fin@test")
    credits.credit_withdrawal(db, yi_enrolment, actor="fin@test")
    payments.refund_credit(
        db, school, home, amount=2000, paid_on=D(2026, 12, 10), method="bank_transfer", actor="fin"
    )
    charges = {
        c.enrolment_id: c for c in db.scalars(select(ChargeRecord).order_by(ChargeRecord.id))
    }
    jia_charge, yi_charge = charges.values()
    return school, home, jia_charge, yi_charge


def test_the_statement_lists_every_movement_and_ends_at_the_households_accounts(db, term):
    school, home, jia_charge, yi_charge = term
    st = statement(db, home.id, D(2026, 9, 1), D(2027, 1, 31))
    kinds = [(line["kind"], line["student"], line["date"]) for line in st["lines"]]
    assert kinds == [
        ("charge", "甲", D(2026, 9, 1)),
        ("waiver", "甲", D(2026, 9, 1)),
        ("charge", "乙", D(2026, 9, 1)),
        ("payment", None, D(2026, 9, 10)),
        ("credit", "乙", yi_credit_date(db, yi_charge)),
        ("refund", None, D(2026, 12, 10)),
    ]
    by_kind = {line["kind"]: line for line in st["lines"]}
    # 甲: the parent share in full, and beside it the waiver with its reason.
    assert st["lines"][0]["amount"] == 40000
    assert (by_kind["waiver"]["amount"], by_kind["waiver"]["reason"]) == (-20000, "单亲家庭")
    # 乙: prorated, so less than the full parent share.
    assert st["lines"][2]["amount"] == yi_charge.household < 40000
    assert by_kind["payment"]["amount"] == -50000
    assert by_kind["credit"]["reason"] == "withdrawal" and by_kind["credit"]["amount"] < 0
    assert by_kind["refund"]["amount"] == 2000
    assert all(line["invoice"] == "S1-2026-000001" for line in st["lines"][:3])

    # Running balance, and the closing balance is the receivable less the credit held.
    running = st["opening_balance"]
    for line in st["lines"]:
        running += line["amount"]
        assert line["balance"] == running
    assert st["closing_balance"] == running
    assert st["closing_receivable"] == payments.receivable_balance(db, school, home.id)
    assert st["closing_credit"] == payments.credit_balance(db, school, home.id)
    assert st["closing_balance"] == st["closing_receivable"] - st["closing_credit"]
    assert sum(st["totals"].values()) == st["closing_balance"] - st["opening_balance"]


def yi_credit_date(db, charge):  # type: ignore[no-untyped-def]
    return charge_explanation(db, charge)["credits"][0]["date"]


@pytest.mark.parametrize("cut", [D(2026, 9, 5), D(2026, 9, 10), D(2026, 11, 30), D(2026, 12, 10)])
def test_a_statement_split_in_two_is_the_same_statement(db, term, cut):
    _, home, _, _ = term
    whole = statement(db, home.id, D(2026, 9, 1), D(2027, 1, 31))
    first = statement(db, home.id, D(2026, 9, 1), cut)
    second = statement(db, home.id, cut + dt.timedelta(days=1), D(2027, 1, 31))
    assert second["opening_balance"] == first["closing_balance"]
    assert second["opening_receivable"] == first["closing_receivable"]
    assert second["opening_credit"] == first["closing_credit"]
    assert first["lines"] + second["lines"] == whole["lines"]
    assert second["closing_balance"] == whole["closing_balance"]


def test_a_finance_users_statement_shows_only_their_schools(db, term):
    school, home, _, _ = term
    st = statement(db, home.id, D(2026, 9, 1), D(2027, 1, 31), school_ids=[school.id + 1000])
    assert (st["lines"], st["schools"], st["school"], st["closing_balance"]) == ([], [], None, 0)
    assert statement(db, home.id, D(2026, 9, 1), D(2027, 1, 31), school_ids=[school.id])["lines"]


def test_why_this_amount_explains_a_prorated_charge_from_its_own_figures(db, term):
    _, _, jia_charge, yi_charge = term
    why = charge_explanation(db, yi_charge.id)
    calc = why["calculation"]
    assert why["student"]["name"] == "乙" and why["invoice"] == "S1-2026-000001"
    assert why["standard"]["document_no"] == "示发改价〔2026〕12号"
    assert why["standard"]["authority"] == "示范区发改委"
    assert (why["policy"]["unit_cost"], why["policy"]["government"]["percent"]) == (120000, "50")
    assert calc["prorated"] is True and calc["enrolled_days"] < calc["period_days"]
    # The cost is F × units × enrolled / period days, rounded half-up once, to the fen.
    exact = Decimal(120000 * calc["enrolled_days"]) / calc["period_days"]
    assert Decimal(calc["exact_cost_fen"]) == exact.quantize(Decimal("0.0001"))
    assert calc["cost"] == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert Decimal(calc["rounding_difference_fen"]) == (calc["cost"] - exact).quantize(
        Decimal("0.0001")
    )
    shares = why["shares"]
    assert shares["government"] + shares["school"] + shares["parent"] == calc["cost"]
    assert shares["parent"] <= why["parent_ceiling"]  # never above the approved standard
    assert why["waiver"] == {"amount": 0, "cover": "government", "grants": []}
    # The withdrawal gave part of it back, split as it was charged.
    (credit,) = why["credits"]
    assert credit["reason"] == "withdrawal" and credit["total"] > 0
    assert why["now"]["household"] == yi_charge.household - credit["household"]

    jia = charge_explanation(db, jia_charge)
    assert jia["calculation"]["prorated"] is False
    assert (
        jia["calculation"]["cost"] == 120000
        and jia["calculation"]["rounding_difference_fen"] == "0"
    )
    assert jia["shares"] == {"government": 60000, "school": 20000, "parent": 40000}
    assert jia["waiver"]["amount"] == 20000 and jia["household"] == 20000
    assert [g["reason"] for g in jia["waiver"]["grants"]] == ["单亲家庭"]
    assert jia["payers"] == {
        "government": 80000,
        "school": 20000,
        "household": 20000,
        "absorbed": 0,
    }
    with pytest.raises(LookupError):
        charge_explanation(db, yi_charge.id + 1000)
