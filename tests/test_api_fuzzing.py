"""API fuzzing: schemathesis over the whole ``/api/openapi.json``, as finance and as a parent.

Every operation of the published schema is called with generated requests (valid and
invalid bodies, queries and path values) against the WSGI app, once with the token of the
demo school's finance user and once with the token of the demo parent. The app must never
answer 5xx, and every answer must have a status the operation documents and a body that is
valid against the schema documented for that status.

The database holds the demo's whole autumn term (:func:`api.demo.load_demo`: programmes,
applications, four billing months, payments, claims, stipends, vendor bills, payouts), so
that path parameters resolve: each path value is either the generated one (mostly a 404)
or the key of a real row (a book, account, entry, school, term, household, invoice, …).
The demo is loaded once for the module inside a transaction that is rolled back at the
end, and each operation's test runs inside a savepoint of its own that is rolled back
after it, so whatever the fuzzer writes never reaches another test.

Checks: ``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance``
and ``response_schema_conformance`` (error bodies too: they are documented as the
``application/problem+json`` they are). ``test_the_same_checks_fail_…`` shows that these
checks do fail on a route that raises and on bodies off their schema.

Bounded for CI (about 4,000 requests, under a minute on an idle two-core machine):
``FUZZ_MAX_EXAMPLES`` generated cases per operation and role, a fixed seed, no coverage or
stateful phase. A longer run on demand::

    KEHOU_FUZZ_EXAMPLES=100 KEHOU_FUZZ_COVERAGE=1 KEHOU_FUZZ_SEED=7 \\
        .venv/bin/pytest tests/test_api_fuzzing.py

and ``KEHOU_FUZZ_ROLES=finance,parent,admin,auditor,teacher`` fuzzes as the other roles too.

It runs once, in the SQLite phase of ``.ci/run`` (marked ``once``; skipped on PostgreSQL).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from conftest import is_postgres
from flask import Flask, Response
from flask.views import MethodView
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from api import create_app
from api.demo import PARENT, SCHOOL_FINANCE, TEACHER, load_demo

pytestmark = [pytest.mark.once]

if is_postgres():  # marked `once`: the PostgreSQL phase deselects it; skip loading the schema
    pytest.skip("the API fuzzing runs once, in the SQLite phase", allow_module_level=True)

FUZZ_MAX_EXAMPLES = int(os.environ.get("KEHOU_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: The demo's users by role; CI fuzzes as finance and parent, KEHOU_FUZZ_ROLES picks others.
DEMO_USERS = {
    "finance": SCHOOL_FINANCE,
    "parent": PARENT,
    "admin": "admin@demo.kehou",
    "auditor": "auditor@demo.kehou",
    "teacher": TEACHER,
}
ROLES = os.environ.get("KEHOU_FUZZ_ROLES", "finance,parent").split(",")

#: Path parameter -> the query that lists real values for it (a few of each).
REAL_VALUES = {
    "book": "SELECT code FROM books",
    "code": "SELECT DISTINCT code FROM accounts",
    "entry_id": "SELECT id FROM entries",
    "period_id": "SELECT id FROM periods",
    "user_id": "SELECT id FROM users",
    "school": "SELECT code FROM schools",
    "district": "SELECT code FROM districts",
    "term_id": "SELECT id FROM terms",
    "household_id": "SELECT id FROM households",
    "student_id": "SELECT id FROM students",
    "application_id": "SELECT id FROM applications",
    "programme_id": "SELECT id FROM programmes",
    "enrolment_id": "SELECT id FROM enrolments",
    "waiver_id": "SELECT id FROM waivers",
    "number": "SELECT number FROM invoices",
    "claim_id": "SELECT id FROM subsidy_claims",
    "payment_id": "SELECT id FROM payments",
    "write_off_id": "SELECT id FROM write_offs",
    "hours_id": "SELECT id FROM service_hours",
    "staff_id": "SELECT id FROM staff_members",
    "vendor_id": "SELECT id FROM vendors",
    "batch_id": "SELECT id FROM payout_batches",
    "statement_id": "SELECT id FROM bank_statements",
    "line_id": "SELECT id FROM bank_lines",
    "charge_id": "SELECT id FROM charges",
}

# One app for the module: the schema is read from it at import (no database needed for
# that), and the `demo` fixture binds its sessions to the module's rolled-back connection.
APP = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "ENV": "testing"})
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": int(os.environ.get("KEHOU_FUZZ_SEED", "20260901")),
        "generation": {"max-examples": FUZZ_MAX_EXAMPLES, "database": "none"},
        "phases": {
            "stateful": {"enabled": False},
            # Hundreds of boundary cases per operation: on demand only (KEHOU_FUZZ_COVERAGE=1).
            "coverage": {"enabled": bool(os.environ.get("KEHOU_FUZZ_COVERAGE"))},
        },
    }
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP, config=CONFIG)


@dataclass
class Demo:
    connection: Connection
    tokens: dict[str, str]
    real: dict[str, list[Any]]


DEMO: Demo | None = None


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the time a real row's key, so that the operation gets past its 404."""
    real = DEMO.real if DEMO else {}
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.one_of(st.just(value), st.sampled_from(real[name]))
            if real.get(name)
            else st.just(value)
            for name, value in path_parameters.items()
        }
    )


@pytest.fixture(scope="module")
def demo(engine: Engine, database_url: str) -> Iterator[Demo]:
    global DEMO
    conn = engine.connect()
    outer = conn.begin()
    try:
        db = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        loaded = load_demo(db, actor="fuzz")
        db.commit()
        token_of = {email: token for email, _, token in loaded.tokens}
        tokens = {role: token_of[DEMO_USERS[role]] for role in ROLES}
        real = {
            name: [row[0] for row in db.execute(text(f"{query} ORDER BY 1 LIMIT 5"))]
            for name, query in REAL_VALUES.items()
        }
        db.close()
        APP.config["DATABASE_URL"] = database_url
        APP.extensions["kehou_db"].bind(conn)
        DEMO = Demo(connection=conn, tokens=tokens, real=real)
        yield DEMO
    finally:
        DEMO = None
        outer.rollback()
        conn.close()


@pytest.fixture
def fuzzed(demo: Demo) -> Iterator[Demo]:
    """The demo, with whatever this test writes rolled back after it."""
    savepoint = demo.connection.begin_nested()
    try:
        yield demo
    finally:
        savepoint.rollback()


def call_and_check(case: Any, token: str) -> None:
    """One generated request, and the checks every answer must pass."""
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=FUZZ_MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_operation_answers_5xx_or_off_its_schema(case: Any, role: str, fuzzed: Demo) -> None:
    call_and_check(case, fuzzed.tokens[role])


# --------------------------------------------------------------------------- the fuzzing can fail


def tiny_app() -> Flask:
    """Kehou's API class and error handlers with broken routes: one raises, one answers a body
    off its schema, one a problem+json off the error schema."""
    from api import KehouApi, errors
    from api.resources import Blueprint

    class CountOut(Schema):
        n = fields.Integer(required=True)

    app = Flask("tiny")
    app.config.update(
        API_TITLE="tiny",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = KehouApi(app)
    blp = Blueprint("tiny", "tiny", url_prefix="/api/v1")

    @blp.route("/boom")
    class Boom(MethodView):
        @blp.response(200, CountOut)
        def get(self) -> Any:
            raise RuntimeError("a bug")

    @blp.route("/liar")
    class Liar(MethodView):
        @blp.response(200, CountOut)
        def get(self) -> Any:
            return Response(json.dumps({"n": "many"}), mimetype="application/json")

    @blp.route("/bad-problem")
    class BadProblem(MethodView):
        @blp.response(200, CountOut)
        def get(self) -> Any:
            body = json.dumps({"status": "not found", "title": 404})
            return Response(body, status=404, mimetype=errors.PROBLEM)

    api.register_blueprint(blp)
    errors.register(app)
    return app


@pytest.mark.parametrize(
    ("path", "failure"),
    [
        ("/api/v1/boom", "Server error"),
        ("/api/v1/liar", "Response violates schema"),
        ("/api/v1/bad-problem", "Response violates schema"),
    ],
)
def test_the_same_checks_fail_on_a_5xx_and_on_a_body_off_its_schema(path: str, failure: str):
    tiny = schemathesis.openapi.from_wsgi("/api/openapi.json", tiny_app(), config=CONFIG)

    @given(case=tiny[path]["GET"].as_strategy())
    @settings(max_examples=3, deadline=None, database=None)
    def fuzz(case: Any) -> None:
        call_and_check(case, "any-token")

    with pytest.raises(FailureGroup) as raised:
        fuzz()
    assert failure in str(raised.value), str(raised.value)
