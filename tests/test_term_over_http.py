"""A term through the API: set-up by an admin, consent by a parent, billing and payment by
finance, and what each caller may see."""

from __future__ import annotations

from conftest import Api
from school_setup import programme as make_programme


def created(response, status=201):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.json
    return response.json


def test_a_term_from_set_up_to_payment(client, tokens, db):
    admin = Api(client, tokens["admin"])
    created(
        admin.post(
            "/api/v1/districts",
            json={"code": "HD", "name": "海淀区", "funder_name": "海淀区财政局"},
        )
    )
    created(
        admin.post(
            "/api/v1/schools",
            json={
                "district": "HD",
                "code": "HD01",
                "name": "海淀第一小学",
                "bank_name": "示范银行",
                "bank_account": "6222000011112222",
                "complaints_phone": "12345",
            },
        )
    )
    fin_user = created(
        admin.post("/api/v1/users", json={"email": "fin@hd01.cn", "role": "finance"})
    )
    created(
        admin.post(f"/api/v1/users/{fin_user['user']['id']}/links", json={"school": "HD01"}), 200
    )
    finance = Api(client, fin_user["token"])

    term = created(
        finance.post(
            "/api/v1/schools/HD01/terms",
            json={
                "name": "2026秋季学期",
                "start": "2026-09-01",
                "end": "2027-01-15",
                "billing_months": 4,
            },
        )
    )
    standard = created(
        finance.post(
            "/api/v1/fee-standards",
            json={
                "district": "HD",
                "kind": "basic_care",
                "amount": "500.00",
                "unit": "term",
                "authority": "海淀区发改委",
                "document_no": "海发改价〔2026〕8号",
                "valid_from": "2026-01-01",
                "valid_to": "2027-12-31",
            },
        )
    )
    # Parents would pay 1200 − 600 − 200 = 400.00 ≤ 500.00.
    created(
        finance.post(
            "/api/v1/cost-policies",
            json={
                "district": "HD",
                "kind": "basic_care",
                "fee_standard": standard["id"],
                "effective_from": "2026-01-01",
                "effective_to": "2027-12-31",
                "unit": "term",
                "unit_cost": "1200.00",
                "government": {"mode": "percent", "percent": "50"},
                "school_share": {"mode": "amount", "amount": "200.00"},
                "waiver_cover": "government",
                "refund_rule": "daily",
            },
        )
    )
    from ledger.school.models import School, Term

    school = db.query(School).filter_by(code="HD01").one()
    prog = make_programme(db, school, db.get(Term, term["id"]))
    db.commit()

    home = created(
        finance.post(
            "/api/v1/households",
            json={
                "district": "HD",
                "name": "王家",
                "guardians": [{"name": "王大明", "phone": "13800000000"}],
            },
        )
    )
    other_home = created(
        finance.post("/api/v1/households", json={"district": "HD", "name": "李家"})
    )
    student = created(
        finance.post(
            "/api/v1/schools/HD01/students",
            json={"household": home["id"], "name": "王小明", "class": "三年级二班"},
        )
    )
    parent_user = created(
        admin.post("/api/v1/users", json={"email": "wang@home.cn", "role": "parent"})
    )
    created(
        admin.post(
            f"/api/v1/users/{parent_user['user']['id']}/links", json={"household": home["id"]}
        ),
        200,
    )
    parent = Api(client, parent_user["token"])
    stranger_user = created(
        admin.post("/api/v1/users", json={"email": "li@home.cn", "role": "parent"})
    )
    created(
        admin.post(
            f"/api/v1/users/{stranger_user['user']['id']}/links",
            json={"household": other_home["id"]},
        ),
        200,
    )
    stranger = Api(client, stranger_user["token"])

    # Consent: the parent applies, the class reviews, the school approves.
    assert (
        stranger.post(
            "/api/v1/applications", json={"student": student["id"], "programme": prog.id}
        ).status_code
        == 404
    )
    application = created(
        parent.post("/api/v1/applications", json={"student": student["id"], "programme": prog.id})
    )
    assert application["applied_by"] == "wang@home.cn"
    created(
        finance.post(f"/api/v1/applications/{application['id']}/review", json={"approve": True}),
        200,
    )
    decided = created(
        finance.post(f"/api/v1/applications/{application['id']}/decide", json={"approve": True}),
        200,
    )
    assert decided["status"] == "approved" and decided["enrolment"] is not None

    run_body = {"term": term["id"], "issued_on": "2026-09-01"}
    dry = created(
        finance.post("/api/v1/schools/HD01/billing-runs", json={**run_body, "dry_run": True}), 200
    )
    assert dry["totals"]["household"] == "400.00" and dry["invoices"] == []
    assert finance.post("/api/v1/schools/HD01/billing-runs", json=run_body).status_code == 422
    run = created(finance.post("/api/v1/schools/HD01/billing-runs", json=run_body, key="run-1"))
    [invoice] = run["invoices"]
    assert invoice == {"household": home["id"], "number": "HD01-2026-000001", "amount": "400.00"}
    assert run["charges"][0]["government"] == "600.00"

    # The parent sees the household's invoice; another household's parent does not.
    mine = created(parent.get(f"/api/v1/households/{home['id']}/invoices"), 200)
    assert [i["number"] for i in mine["items"]] == ["HD01-2026-000001"]
    assert stranger.get(f"/api/v1/households/{home['id']}/invoices").status_code == 404
    assert stranger.get("/api/v1/schools/HD01/invoices/HD01-2026-000001").status_code == 404

    pay = {
        "household": home["id"],
        "amount": "450.00",
        "received_on": "2026-09-10",
        "method": "wechat",
    }
    to_vendor = finance.post(
        "/api/v1/schools/HD01/payments", json={**pay, "received_into": "2202"}, key="p-0"
    )
    assert (
        to_vendor.status_code == 422 and to_vendor.json["code"] == "payment_not_to_school_account"
    )
    paid = created(finance.post("/api/v1/schools/HD01/payments", json=pay, key="p-1"))
    assert paid["allocations"] == [{"invoice": "HD01-2026-000001", "amount": "400.00"}]
    assert paid["to_credit"] == "50.00"
    again = created(finance.post("/api/v1/schools/HD01/payments", json=pay, key="p-1"), 200)
    assert again["id"] == paid["id"]
    clash = finance.post("/api/v1/schools/HD01/payments", json={**pay, "amount": "1.00"}, key="p-1")
    assert clash.status_code == 409

    auditor = Api(client, tokens["auditor"])
    tb = created(auditor.get("/api/v1/books/HD01/trial-balance"), 200)
    assert tb["total_debit"] == tb["total_credit"]
    lines = {line["code"]: line for line in tb["items"]}
    assert lines["1002"]["debit"] == "450.00"
    assert lines["1123.HD"]["debit"] == "600.00"
    assert lines[f"2241.H{home['id']}"]["credit"] == "50.00"
    assert created(auditor.get("/api/v1/books/HD01/chain"), 200)["ok"] is True
    # Finance of the school sees its book; a parent never does.
    assert finance.get("/api/v1/books/HD01").status_code == 200
    assert parent.get("/api/v1/books/HD01").status_code == 403
