"""The coverage report to the education bureau (issue 6): who was served, by whom, for how long,
and whether the service had the 5+2 shape — per school and term, and for a district.

School 第S1小学, autumn term 2026-09-01..2027-01-15, end of work 17:30:

- 基本托管 (basic care) runs Monday to Friday 15:30–17:30, capacity 40: it has the 5+2 shape.
- 素质拓展 (enrichment) runs Tuesday and Thursday 15:30–16:30, capacity 20: it breaks all three
  rules (two days, one hour, ends before 17:30).

Six students: 甲 (left-behind) in basic care; 乙 in both programmes (counted once); 丙 (verified
hardship for the term) in enrichment; 丁 (migrant, hardship verified only for 2025) in none;
戊 (left-behind) withdrawn from basic care on its first day (never served); 己 (left-behind)
withdrawn from basic care in October (served, but holds no place now). Served: 甲乙丙己,
4 of 6 = 66.7 %; left-behind 2 of 3 = 66.7 %; migrant 0 of 1 = 0.0 %; hardship 1 of 1.

Hours: 王老师 (teacher) two approved 2-hour sessions in basic care; 赵阿姨 (volunteer) two
approved enrichment sessions of 60 and 50 minutes; 李教练 (external) logs one enrichment
session that nobody approves — not delivered, and 李教练 does not count as taking part.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from conftest import Api
from http_helpers import assert_problem
from openapi_spec_validator import validate
from pdf_helpers import flat, pdf_text
from school_setup import enrolled_student, school_with_term
from term_over_http import link, ok

from ledger.audit.coverage import coverage_report, district_coverage, hours_text, share
from ledger.school import enrolment, payroll, structure
from ledger.school.models import Programme

D, T = dt.date, dt.time


def _programme(db, school, term, kind, name, weekdays, start, end, capacity):  # type: ignore[no-untyped-def]
    p = Programme(
        school_id=school.id,
        term_id=term.id,
        kind=kind,
        name=name,
        weekdays=weekdays,
        start_time=start,
        end_time=end,
        capacity=capacity,
        lessons_per_session=1,
    )
    db.add(p)
    db.flush()
    return p


class Term:
    def __init__(self, db):  # type: ignore[no-untyped-def]
        district, school, term = school_with_term(db, "S1")
        self.district, self.school, self.term = district, school, term
        care = _programme(
            db, school, term, "basic_care", "基本托管", "12345", T(15, 30), T(17, 30), 40
        )
        club = _programme(
            db, school, term, "enrichment", "素质拓展", "24", T(15, 30), T(16, 30), 20
        )
        self.care, self.club = care, club

        def student(prog, name, **flags):  # type: ignore[no-untyped-def]
            return enrolled_student(db, district, school, term, prog, name, **flags)

        student(care, "甲", left_behind=True)
        yi, home_yi, _ = student(care, "乙")
        app = enrolment.apply(db, yi, club, applied_by="parent@test")
        enrolment.review(db, app, approve=True, actor="class-teacher@test")
        enrolment.decide(db, app, approve=True, actor="school@test")
        bing, _, _ = student(club, "丙")
        structure.verify_hardship(
            db,
            bing,
            evidence_ref="低保证 2026-17",
            verified_by="fin@test",
            valid_from=D(2026, 9, 1),
            valid_to=D(2027, 8, 31),
        )
        ding = structure.create_student(
            db, school, structure.create_household(db, district, "丁家"), name="丁", migrant=True
        )
        structure.verify_hardship(
            db,
            ding,
            evidence_ref="低保证 2025-03",
            verified_by="fin@test",
            valid_from=D(2025, 1, 1),
            valid_to=D(2025, 12, 31),
        )
        _, _, wu = student(care, "戊", left_behind=True)
        enrolment.withdraw(db, wu, effective=wu.start_date, actor="fin@test")
        _, _, ji = student(care, "己", left_behind=True)
        enrolment.withdraw(db, ji, effective=D(2026, 10, 8), actor="fin@test")

        wang = payroll.create_staff(db, school, name="王老师", kind="teacher", actor="fin")
        zhao = payroll.create_staff(db, school, name="赵阿姨", kind="volunteer", actor="fin")
        li = payroll.create_staff(
            db,
            school,
            name="李教练",
            kind="external",
            actor="fin",
            id_type="resident_id",
            id_number="110101199001011234",
        )

        def hours(staff, prog, day, start, end, approve=True):  # type: ignore[no-untyped-def]
            h = payroll.log_hours(
                db, school, staff, prog, day=day, start=start, end=end, actor="fin"
            )
            if approve:
                payroll.approve_hours(db, h, approve=True, actor="fin2")
            return h

        hours(wang, care, D(2026, 9, 1), T(15, 30), T(17, 30))
        hours(wang, care, D(2026, 9, 2), T(15, 30), T(17, 30))
        hours(zhao, club, D(2026, 9, 1), T(15, 30), T(16, 30))
        hours(zhao, club, D(2026, 9, 8), T(15, 30), T(16, 20))
        hours(li, club, D(2026, 9, 3), T(15, 30), T(16, 30), approve=False)
        db.flush()


@pytest.fixture
def term(db):  # type: ignore[no-untyped-def]
    return Term(db)


def test_shares_and_hours_are_exact_and_round_half_up():
    assert share(2, 3)["percent"] == "66.7"
    assert share(1, 8)["percent"] == "12.5"
    assert share(1, 16)["percent"] == "6.3"  # 6.25 rounds up, not to even
    assert share(1, 6)["percent"] == "16.7"
    assert share(0, 1)["percent"] == "0.0"
    assert share(7, 7) == {"served": 7, "of": 7, "fraction": "7/7", "percent": "100.0"}
    assert share(0, 0)["percent"] is None
    assert hours_text(110) == "1.83"
    assert hours_text(1) == "0.02"  # 1.67 hundredths rounds up
    assert hours_text(90) == "1.50"
    assert hours_text(0) == "0.00"


def test_the_coverage_of_a_term(term, db):
    r = coverage_report(db, term.school, term.term)
    assert r["school"] == {"code": "S1", "name": "第S1小学"}
    assert r["students"] == {"served": 4, "of": 6, "fraction": "4/6", "percent": "66.7"}
    assert r["groups"] == {
        "left_behind": {"served": 2, "of": 3, "fraction": "2/3", "percent": "66.7"},
        "migrant": {"served": 0, "of": 1, "fraction": "0/1", "percent": "0.0"},
        "hardship": {"served": 1, "of": 1, "fraction": "1/1", "percent": "100.0"},
    }
    care, club = r["programmes"]
    assert (care["name"], care["kind"], care["capacity"], care["enrolled"], care["served"]) == (
        "基本托管",
        "basic_care",
        40,
        2,  # 甲 and 乙 hold places; 戊 and 己 withdrew
        3,  # 甲, 乙 and 己 were served
    )
    assert (club["kind"], club["capacity"], club["enrolled"], club["served"]) == (
        "enrichment",
        20,
        2,
        2,
    )
    assert care["delivered"] == {"sessions": 2, "minutes": 240, "hours": "4.00", "lessons": 2}
    assert club["delivered"] == {"sessions": 2, "minutes": 110, "hours": "1.83", "lessons": 2}
    assert (care["staff"], club["staff"]) == (1, 1)  # 李教练's hours were never approved

    assert r["staff"] == {"total": 2, "by_kind": {"teacher": 1, "external": 0, "volunteer": 1}}
    assert r["delivered"] == {
        "total": {"sessions": 4, "minutes": 350, "hours": "5.83", "lessons": 4},
        "by_staff_kind": {
            "teacher": {"sessions": 2, "minutes": 240, "hours": "4.00", "lessons": 2},
            "external": {"sessions": 0, "minutes": 0, "hours": "0.00", "lessons": 0},
            "volunteer": {"sessions": 2, "minutes": 110, "hours": "1.83", "lessons": 2},
        },
    }

    # 5+2: the compliance listing's own verdicts, programme by programme and for the term.
    assert care["compliant"] and care["warnings"] == []
    assert not club["compliant"]
    assert [w["code"] for w in club["warnings"]] == [
        "fewer_than_five_days",
        "under_two_hours",
        "ends_before_end_of_work",
    ]
    assert r["compliance"] == {
        "end_of_work": "17:30",
        "programmes": 2,
        "compliant_programmes": 1,
        "term_compliant": True,  # basic care alone gives every school day 15:30–17:30
        "term_warnings": [],
    }


def test_a_term_with_nothing_in_it(db):
    _, school, term = school_with_term(db, "S9")
    r = coverage_report(db, school, term)
    assert r["students"] == {"served": 0, "of": 0, "fraction": "0/0", "percent": None}
    assert r["programmes"] == []
    assert r["staff"]["total"] == 0
    assert r["delivered"]["total"]["hours"] == "0.00"
    assert r["compliance"]["term_compliant"] is False  # no service at all is not 5+2


def _district_with_three_schools(term, db):  # type: ignore[no-untyped-def]
    s3 = structure.create_school(db, term.district, code="S3", name="第S3小学", actor="admin")
    t3 = structure.create_term(
        db, s3, name="2026秋季学期", start=D(2026, 9, 1), end=D(2027, 1, 15), billing_months=4
    )
    structure.create_student(
        db, s3, structure.create_household(db, term.district, "庚家"), name="庚", migrant=True
    )
    _programme(db, s3, t3, "basic_care", "托管", "12345", T(15, 0), T(17, 30), 30)
    s4 = structure.create_school(db, term.district, code="S4", name="第S4小学", actor="admin")
    structure.create_term(
        db, s4, name="2027春季学期", start=D(2027, 2, 20), end=D(2027, 7, 1), billing_months=4
    )
    db.flush()


def test_a_district_adds_up_its_schools(term, db):
    _district_with_three_schools(term, db)
    r = district_coverage(db, term.district, "2026秋季学期")
    assert [s["school"]["code"] for s in r["schools"]] == ["S1", "S3"]
    assert r["schools_without_term"] == ["S4"]
    total = r["total"]
    assert total["schools"] == 2
    assert total["students"] == {"served": 4, "of": 7, "fraction": "4/7", "percent": "57.1"}
    assert total["groups"]["migrant"] == {
        "served": 0,
        "of": 2,
        "fraction": "0/2",
        "percent": "0.0",
    }
    assert total["programmes_by_kind"]["basic_care"] == {
        "programmes": 2,
        "capacity": 70,
        "enrolled": 2,
        "served": 3,
    }
    assert total["staff"]["total"] == 2
    assert total["delivered"]["total"]["hours"] == "5.83"
    assert total["compliance"] == {
        "programmes": 3,
        "compliant_programmes": 2,
        "compliant_terms": 2,
    }


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def callers(term, db, client, tokens, make_token):  # type: ignore[no-untyped-def]
    _district_with_three_schools(term, db)
    _, other, _ = school_with_term(db, "S2")
    db.commit()
    admin = Api(client, tokens["admin"])
    finance = Api(client, tokens["finance"])
    outsider = Api(client, make_token("finance"))
    link(admin, finance.token, school="S1")
    link(admin, outsider.token, school="S2")
    return {
        "finance": finance,
        "outsider": outsider,
        "auditor": Api(client, tokens["auditor"]),
        "admin": admin,
    }


def test_the_report_over_http_as_json_and_csv(term, callers):
    url = f"/api/v1/schools/S1/terms/{term.term.id}/coverage"
    body = ok(callers["finance"].get(url), 200)
    assert body["students"] == {"served": 4, "of": 6, "fraction": "4/6", "percent": "66.7"}
    assert body["term"]["start"] == "2026-09-01"
    assert body["groups"]["left_behind"]["percent"] == "66.7"
    assert body["delivered"]["total"]["hours"] == "5.83"
    assert [p["compliant"] for p in body["programmes"]] == [True, False]
    assert ok(callers["auditor"].get(url), 200) == body
    assert ok(callers["admin"].get(url), 200) == body

    # Out of scope is not there at all; a term of another school neither.
    assert_problem(callers["outsider"].get(url), 404, "not_found")
    s2_term = f"/api/v1/schools/S2/terms/{term.term.id}/coverage"
    assert_problem(callers["admin"].get(s2_term), 404, "not_found")

    r = callers["finance"].get(url + ".csv")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="coverage-S1-{term.term.id}.csv"'
    )
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["school", "S1", "第S1小学"]
    by_item = {(row[0], row[1]): row for row in rows if len(row) > 1}
    assert by_item[("students", "all")] == ["students", "all", "6", "4", "4/6", "66.7"]
    assert by_item[("students", "migrant")][2:] == ["1", "0", "0/1", "0.0"]
    club = by_item[("programme", str(term.club.id))]
    assert club[2:] == [
        "素质拓展",
        "enrichment",
        "20",
        "2",
        "2",
        "1",
        "2",
        "110",
        "1.83",
        "2",
        "no",
        "fewer_than_five_days under_two_hours ends_before_end_of_work",
    ]
    assert by_item[("staff", "total")][2:] == ["2", "4", "350", "5.83", "4"]
    assert by_item[("compliance", "yes")][2:] == ["2", "1", ""]
    assert_problem(callers["outsider"].get(url + ".csv"), 404, "not_found")


def test_the_district_report_over_http(term, callers, make_token):
    url = "/api/v1/districts/DS1/coverage?term_name=2026秋季学期"
    # The district's report shows every school's figures: finance of one school (S1)
    # may not read it, finance of the district may.
    assert_problem(callers["finance"].get(url), 404, "not_found")
    district_finance = Api(callers["admin"].client, make_token("finance"))
    link(callers["admin"], district_finance.token, district="DS1")
    body = ok(district_finance.get(url), 200)
    assert body["total"]["students"]["fraction"] == "4/7"
    assert body["schools_without_term"] == ["S4"]
    assert ok(callers["auditor"].get(url), 200) == body
    assert_problem(callers["outsider"].get(url), 404, "not_found")
    assert_problem(callers["auditor"].get("/api/v1/districts/DS1/coverage"), 422, "invalid_input")


def test_the_report_as_pdf_in_chinese_and_english(term, callers):
    url = f"/api/v1/schools/S1/terms/{term.term.id}/coverage.pdf"
    r = callers["auditor"].get(url)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    squeezed = flat(text)
    for expected in (
        "第S1小学",
        "课后服务覆盖情况报告",
        "2026秋季学期",
        "学生参与情况",
        "留守儿童",
        "进城务工人员随迁子女",
        "家庭经济困难学生",
        "服务项目",
        "参与人员",
        "“5+2”落实情况",
        "基本托管",
        "素质拓展",
        "66.7%",
        "100.0%",
        "5.83",
        "1.83",
        "本校教师",
        "志愿者",
        "不符合",
        "每周不足5天",
    ):
        assert flat(expected) in squeezed, expected

    english = pdf_text(callers["finance"].get(url + "?lang=en").data)
    for expected in ("After-school service coverage report", "Left-behind children", "66.7%"):
        assert flat(expected) in flat(english), expected
    assert_problem(callers["outsider"].get(url), 404, "not_found")
    assert_problem(callers["finance"].get(url + "?lang=fr"), 422, "invalid_input")


def test_the_routes_are_documented_in_the_openapi(client):
    spec = ok(client.get("/api/openapi.json"), 200)
    validate(spec)
    paths = spec["paths"]
    base = "/api/v1/schools/{school}/terms/{term_id}/coverage"
    for path in (base, base + ".csv", base + ".pdf", "/api/v1/districts/{district}/coverage"):
        assert "get" in paths[path], path
    share_schema = spec["components"]["schemas"]["CoverageShareOut"]["properties"]
    assert share_schema["percent"]["type"] == "string"  # never a float
