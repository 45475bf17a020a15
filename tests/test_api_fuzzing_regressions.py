"""The bugs the API fuzzing (tests/test_api_fuzzing.py) found, each pinned by a plain test.

1. Instants were printed without an offset (``"2026-12-01T23:49:50.035807"``): the database
   keeps naive UTC, and a ``date-time`` of the schema (RFC 3339) must say where it is.
2. A month the calendar cannot hold (``0000-01``, ``9999-12``) passed the ``YYYY-MM``
   pattern and made ``month_bounds`` raise ValueError: a 500 for service hours, pay runs
   and billing; now a 422 ``invalid_month``.
3. The schema documented every error response (``default``, 422) as ``application/json``,
   while every error is sent as ``application/problem+json``: no client or check read the
   error bodies against ``ProblemOut``. Now documented as problem+json.
4. A whole number past 64 bits in a request body (``{"household": 2**64}`` for a write-off)
   reached the database driver, which cannot bind it: a 500. Every integer of a request
   schema (``Strict``) now has the column's range, so it is a 422.
5. The fund-use report's ``people_share_percent`` is sent as a string (``"87.23"``) but was
   documented as a number.
"""

from __future__ import annotations

import datetime as dt

import pytest
from school_setup import school_with_term
from term_over_http import link

from ledger.school.calendar import month_bounds
from ledger.school.errors import RuleBroken


def aware_utc(text: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(text)
    assert instant.tzinfo is not None, f"{text!r} has no offset"
    assert instant.utcoffset() == dt.timedelta(0)
    return instant


def test_instants_in_answers_carry_their_utc_offset(api) -> None:
    book = api.post("/api/v1/books", json={"code": "TZ1", "name": "时区"})
    assert book.status_code == 201, book.json
    created = aware_utc(book.json["created_at"])
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=5)

    assert aware_utc(api.get("/api/v1/books/TZ1").json["created_at"]) == created
    aware_utc(api.get("/api/v1/me").json["created_at"])


@pytest.mark.parametrize("month", ["0000-01", "9999-12"])
def test_a_month_no_calendar_holds_is_refused_not_a_500(api, db, tokens, month: str) -> None:
    school_with_term(db, "S1")
    db.commit()
    link(api.as_(tokens["admin"]), api.token, school="S1")

    r = api.get(f"/api/v1/schools/S1/service-hours?month={month}")

    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert r.json["code"] == "invalid_month"
    assert r.json["errors"] == {"month": [r.json["detail"]]}


def test_month_bounds_refuses_only_months_a_date_cannot_hold() -> None:
    assert month_bounds(1, 1) == (dt.date(1, 1, 1), dt.date(1, 1, 31))
    assert month_bounds(2028, 2) == (dt.date(2028, 2, 1), dt.date(2028, 2, 29))
    assert month_bounds(9999, 11) == (dt.date(9999, 11, 1), dt.date(9999, 11, 30))
    for year, month in [(0, 1), (9999, 12), (2026, 0), (2026, 13)]:
        with pytest.raises(RuleBroken) as refused:
            month_bounds(year, month)
        assert refused.value.code == "invalid_month"
        assert refused.value.field == "month"


def test_error_responses_are_documented_as_the_problem_json_they_are(client) -> None:
    spec = client.get("/api/openapi.json").json
    for name in ("DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"):
        content = spec["components"]["responses"][name]["content"]
        assert list(content) == ["application/problem+json"], name
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/ProblemOut"
        }
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"


@pytest.mark.parametrize("household", [2**64, -(2**70)])
def test_an_id_past_64_bits_is_refused_not_a_500(api, db, tokens, household: int) -> None:
    school_with_term(db, "S1")
    db.commit()
    link(api.as_(tokens["admin"]), api.token, school="S1")

    r = api.post("/api/v1/schools/S1/write-offs", json={"household": household, "reason": "少不补"})

    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert list(r.json["errors"]) == ["household"]


def test_the_people_share_of_fund_use_is_documented_as_the_string_it_is(client) -> None:
    spec = client.get("/api/openapi.json").json
    share = spec["components"]["schemas"]["FundUseOut"]["properties"]["people_share_percent"]
    assert share["type"] == "string"
    assert share["nullable"] is True
