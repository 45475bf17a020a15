def test_finance_posts_an_entry_and_the_trial_balance_is_zero(api):
    assert api.post("/api/v1/books", json={"code": "S1", "name": "School 1"}).status_code == 201
    for code, type_ in [("1002", "asset"), ("4001", "revenue")]:
        r = api.post("/api/v1/books/S1/accounts", json={"code": code, "name": code, "type": type_})
        assert r.status_code == 201, r.json
    body = {
        "effective_date": "2026-09-01",
        "memo": "fee",
        "postings": [
            {"account": "1002", "direction": "debit", "amount": "12.34"},
            {"account": "4001", "direction": "credit", "amount": "12.34"},
        ],
    }
    r = api.post("/api/v1/books/S1/entries", json=body, key="k1")
    assert r.status_code == 201, r.json
    tb = api.get("/api/v1/books/S1/trial-balance").json
    assert tb["total_debit"] == tb["total_credit"] == "12.34"
