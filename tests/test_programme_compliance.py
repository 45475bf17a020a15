"""The "5+2" shape: five school days a week, two hours a day, not ending before the end of work.

Breaches are never refused and never silent: creating a programme returns them,
and the school's compliance listing shows them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from school_setup import school_with_term
from sqlalchemy import func, select

from ledger.school import closing, programmes, structure
from ledger.school.errors import RuleBroken
from ledger.school.models import Programme

T = dt.time


def create(db, school, term, **overrides):
    kwargs = dict(
        kind="basic_care",
        name="基本托管 一年级",
        start_time=T(15, 30),
        end_time=T(17, 30),
        capacity=40,
    )
    kwargs.update(overrides)
    return programmes.create_programme(db, school, term, **kwargs)


def test_a_monday_to_friday_programme_of_two_hours_to_the_end_of_work_has_the_shape(db):
    # The district's working day ends at 17:30 (the default).
    _, school, term = school_with_term(db)
    result = create(db, school, term)
    assert result.warnings == []
    assert result.programme.weekdays == "12345"
    assert programmes.shape_warnings(db, result.programme) == []


def test_a_club_twice_a_week_for_an_hour_is_created_with_three_warnings(db):
    _, school, term = school_with_term(db)
    result = create(
        db,
        school,
        term,
        kind="enrichment",
        name="机器人社团",
        weekdays="31",
        start_time=T(15, 30),
        end_time=T(16, 30),
    )
    assert result.programme.id is not None and result.programme.weekdays == "13"
    assert [w.code for w in result.warnings] == [
        "fewer_than_five_days",
        "under_two_hours",
        "ends_before_end_of_work",
    ]
    assert "Tue, Thu, Fri" in result.warnings[0].message
    assert "1h00" in result.warnings[1].message
    assert "16:30" in result.warnings[2].message and "17:30" in result.warnings[2].message


def test_the_end_of_work_is_the_districts_own(db):
    # Where the working day ends at 18:00, a programme ending at 17:30 ends too early.
    _, school, term = school_with_term(db)
    district = school.district
    district.end_of_work = T(18, 0)
    db.flush()
    result = create(db, school, term)
    assert [w.code for w in result.warnings] == ["ends_before_end_of_work"]


def test_a_weekend_day_does_not_stand_in_for_a_school_day(db):
    _, school, term = school_with_term(db)
    result = create(db, school, term, weekdays="12346")
    assert [w.code for w in result.warnings] == ["fewer_than_five_days"]
    assert "Fri" in result.warnings[0].message


def test_the_compliance_listing_shows_each_programme_and_each_terms_shape(db):
    # Basic care 15:30–16:30 and extended care 16:30–18:00, both Monday to Friday: each
    # alone is short, but together the term offers 2h30 a day to 18:00 — the 5+2 shape.
    # A Wednesday club leaves the term's shape as it is.
    _, school, term = school_with_term(db)
    basic = create(db, school, term, end_time=T(16, 30)).programme
    extended = create(
        db,
        school,
        term,
        kind="extended_care",
        name="延时托管",
        start_time=T(16, 30),
        end_time=T(18, 0),
    ).programme
    club = create(
        db, school, term, kind="enrichment", name="书法", weekdays="3", end_time=T(17, 30)
    ).programme
    other_term = structure.create_term(
        db,
        school,
        name="2027春",
        start=dt.date(2027, 2, 20),
        end=dt.date(2027, 7, 5),
        billing_months=4,
    )
    create(db, school, other_term, weekdays="1234", end_time=T(17, 0))

    listing = programmes.compliance_listing(db, school)

    by_id = {p.programme_id: [w.code for w in p.warnings] for p in listing.programmes}
    assert by_id[basic.id] == ["under_two_hours", "ends_before_end_of_work"]
    assert by_id[extended.id] == ["under_two_hours"]
    assert by_id[club.id] == ["fewer_than_five_days"]
    assert len(listing.with_warnings) == 4
    shapes = {t.term_id: [w.code for w in t.warnings] for t in listing.terms}
    assert shapes[term.id] == []
    assert shapes[other_term.id] == [
        "fewer_than_five_days",
        "under_two_hours",
        "ends_before_end_of_work",
    ]
    only_autumn = programmes.compliance_listing(db, school, term=term)
    assert {p.programme_id for p in only_autumn.programmes} == {basic.id, extended.id, club.id}


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Programme))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"kind": "tutoring"}, "invalid_kind"),
        ({"name": "  "}, "name_required"),
        ({"weekdays": "1238"}, "invalid_weekdays"),
        ({"weekdays": ""}, "invalid_weekdays"),
        ({"start_time": T(17, 30), "end_time": T(15, 30)}, "invalid_times"),
        ({"capacity": 0}, "invalid_capacity"),
        ({"lessons_per_session": 0}, "invalid_lessons"),
    ],
)
def test_a_programme_that_cannot_be_run_is_refused_and_nothing_is_written(db, overrides, code):
    _, school, term = school_with_term(db)
    before = _count(db)
    with pytest.raises(RuleBroken) as err:
        create(db, school, term, **overrides)
    assert err.value.code == code
    assert _count(db) == before


def test_a_programme_in_another_schools_term_or_a_closed_term_is_refused(db):
    _, school, term = school_with_term(db)
    _, other_school, other_term = school_with_term(db, code="S2")
    with pytest.raises(RuleBroken) as err:
        create(db, school, other_term)
    assert err.value.code == "term_of_other_school"
    closing.close_billing_period(db, school, term, actor="fin@test")
    with pytest.raises(RuleBroken) as err:
        create(db, school, term)
    assert err.value.code == "term_closed"
    assert _count(db) == 0
