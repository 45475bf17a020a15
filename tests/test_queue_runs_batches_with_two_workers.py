"""Billing runs and fee-notice batches through RQ on the real Redis, run by two workers.

Against the Redis on 127.0.0.1:6379 (``.ci/run`` starts it; locally the test is
skipped, with the reason, if none answers; under CI it fails instead), on a
queue name of the run's own, and a database the worker processes can see (a
SQLite file, or a fresh PostgreSQL database with ``KEHOU_TEST_DATABASE_URL``).

The same term is billed and its notices rendered twice: in-process into one
database, and through the queue into another — each billing month sent twice,
once more through the API with an Idempotency-Key, once by a job that fails
on its first attempt and is retried by RQ, and the notice batch sent twice
for overlapping periods — with two ``kehou worker --burst`` processes taking
the jobs. Both databases must end the same: the same entries, no duplicates,
gap-free invoice numbers, one archived notice per invoice, a zero trial
balance and a verified chain.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import SERVER_URL, _create_pg_database, _drop_pg_database, is_postgres
from school_setup import (
    assert_books_sound,
    enrolled_student,
    programme,
    school_with_term,
    standard_and_policy,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import create_app
from api.auth import create_user
from api.db import upgrade
from api.links import link
from invoices.models import IssuedDocument
from ledger import books
from ledger.database import make_engine
from ledger.school.models import DocumentCounter, Invoice, School

REDIS_URL = os.environ.get("KEHOU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TESTS = Path(__file__).parent
STUDENTS = 3
WAIT_SECONDS = 300


# --------------------------------------------------------------------------- a flaky job

#: Set in the worker's environment: the file whose absence makes the first attempt fail.
FLAKY_MARKER_ENV = "KEHOU_TEST_FLAKY_MARKER"


def flaky_billing_run(**params: Any) -> dict[str, Any]:
    """``api.jobs.billing_run``, but the first attempt loses its connection (a transient error)."""
    from api.jobs import billing_run

    marker = Path(os.environ[FLAKY_MARKER_ENV])
    if not marker.exists():
        marker.write_text("failed once\n")
        raise ConnectionError("simulated: the database connection was lost")
    return billing_run(**params)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def redis_queue():  # type: ignore[no-untyped-def]
    """A queue name of this run's own on the real Redis; its jobs and keys removed after."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job
    from rq.registry import (
        DeferredJobRegistry,
        FailedJobRegistry,
        FinishedJobRegistry,
        ScheduledJobRegistry,
        StartedJobRegistry,
    )

    conn = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis means the same
        reason = (
            f"no Redis answers at {REDIS_URL} ({exc}); start one with "
            "`redis-server --daemonize yes` (.ci/run does)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"kehou-test-{uuid.uuid4().hex[:12]}"
    yield conn, name
    queue = Queue(name, connection=conn)
    ids = set(queue.job_ids)
    for registry in (
        FinishedJobRegistry,
        FailedJobRegistry,
        StartedJobRegistry,
        ScheduledJobRegistry,
        DeferredJobRegistry,
    ):
        ids |= set(registry(queue=queue).get_job_ids())
    for job_id in ids:
        with contextlib.suppress(Exception):  # already gone
            Job.fetch(job_id, connection=conn).delete()
        conn.delete(f"rq:results:{job_id}")
    queue.delete(delete_jobs=True)
    for key in conn.scan_iter(match=f"*{name}*"):
        conn.delete(key)
    for key in conn.scan_iter(match="rq:worker:*"):  # the burst workers' records (they expire)
        if conn.hget(key, "queues") == name.encode():
            conn.srem("rq:workers", key)
            conn.delete(key)
    conn.close()


@pytest.fixture
def reference_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A second migrated database, for the in-process run to compare against."""
    if is_postgres():
        url = _create_pg_database(SERVER_URL)
    else:
        url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    if is_postgres():
        _drop_pg_database(SERVER_URL, url)


@pytest.fixture
def make_app():  # type: ignore[no-untyped-def]
    """``create_app`` whose engines are disposed of after the test (no connection left open)."""
    made = []

    def make(config: dict[str, Any]):  # type: ignore[no-untyped-def]
        made.append(create_app(config))
        return made[-1]

    yield make
    for app in made:
        app.extensions["kehou_db"].dispose()


def _set_up_term(url: str) -> dict[str, Any]:
    """The same school, term and students in a database; users to call the API with."""
    eng = make_engine(url)
    with Session(eng, expire_on_commit=False) as db:
        district, school, term = school_with_term(db)
        standard_and_policy(db, district)
        prog = programme(db, school, term)
        for i in range(STUDENTS):
            enrolled_student(db, district, school, term, prog, f"学生{i}")
        finance, finance_token = create_user(db, "finance@queue.test", "finance")
        link(db, finance, school=school.code)
        _, stranger_token = create_user(db, "finance-elsewhere@queue.test", "finance")
        _, auditor_token = create_user(db, "auditor@queue.test", "auditor")
        db.commit()
        out = {
            "term": term.id,
            "finance": finance_token,
            "stranger": stranger_token,
            "auditor": auditor_token,
        }
    eng.dispose()
    return out


# --------------------------------------------------------------------------- helpers


def _cli(app, *args: str) -> Any:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return result


def _queued_id(result: Any) -> str:
    assert "queued" in result.stdout, result.stdout
    return result.stdout.strip().splitlines()[-1]


def _run_two_workers(url: str, queue_name: str, logs: Path, marker: Path) -> None:
    """Two ``kehou worker --burst`` processes on the queue; both must finish cleanly."""
    env = {
        **os.environ,
        "KEHOU_DATABASE_URL": url,
        "KEHOU_QUEUE_URL": REDIS_URL,
        "KEHOU_QUEUE_NAME": queue_name,
        "KEHOU_INSTANCE_PATH": str(logs),
        FLAKY_MARKER_ENV: str(marker),
        "PYTHONPATH": os.pathsep.join(
            [str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    env.pop("KEHOU_TEST_DATABASE_URL", None)
    command = [sys.executable, "-c", "from api.cli import main; main()", "worker", "--burst"]
    procs = []
    # One worker forks a work horse per job (RQ's default), the other runs jobs itself.
    for n, extra in ((1, []), (2, ["--simple"])):
        log = open(logs / f"worker{n}.log", "ab")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([*command, *extra], env=env, stdout=log, stderr=log, cwd=logs)
        procs.append((proc, log))
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        for proc, _ in procs:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    text = "\n".join((logs / f"worker{n}.log").read_text(errors="replace") for n in (1, 2))
    assert all(proc.returncode == 0 for proc, _ in procs), text[-6000:]


def _fingerprint(url: str) -> dict[str, Any]:
    """What the books and the archive hold, without ids or times."""
    eng = make_engine(url)
    with Session(eng) as db:
        school = db.scalar(select(School).where(School.code == "S1"))
        assert_books_sound(db, school)
        codes = dict(db.execute(select(books.Account.id, books.Account.code)).all())
        entries = []
        for entry in db.scalars(
            select(books.Entry)
            .where(books.Entry.book_id == school.book_id)
            .order_by(books.Entry.idempotency_key)
        ):
            postings = db.execute(
                select(books.Posting.account_id, books.Posting.amount).where(
                    books.Posting.entry_id == entry.id
                )
            ).all()
            entries.append(
                (
                    entry.idempotency_key,
                    entry.kind,
                    entry.effective_date,
                    entry.memo,
                    tuple(sorted((codes[a], amount) for a, amount in postings)),
                )
            )
        invoices = [
            (i.number, i.year, i.seq, i.period_start, i.period_end, i.amount, i.status)
            for i in db.scalars(select(Invoice).order_by(Invoice.year, Invoice.seq))
        ]
        documents = sorted(
            db.execute(
                select(
                    IssuedDocument.kind,
                    IssuedDocument.number,
                    IssuedDocument.language,
                    IssuedDocument.data,
                )
            ).all()
        )
        counters = sorted((c.kind, c.year, c.last) for c in db.scalars(select(DocumentCounter)))
        keys = db.execute(
            select(books.Entry.idempotency_key, func.count())
            .group_by(books.Entry.idempotency_key)
            .having(func.count() > 1)
        ).all()
    eng.dispose()
    return {
        "entries": entries,
        "invoices": invoices,
        "documents": documents,
        "counters": counters,
        "duplicate_keys": keys,
    }


# --------------------------------------------------------------------------- the test


def test_billing_and_a_notice_batch_through_the_queue_equal_an_in_process_run(
    throwaway_url, reference_url, redis_queue, make_app, tmp_path
):
    conn, queue_name = redis_queue
    queued = _set_up_term(throwaway_url)
    reference = _set_up_term(reference_url)
    term = queued["term"]
    assert reference["term"] == term

    # In-process: September and October billed, the term's notices rendered.
    ref_app = make_app({"DATABASE_URL": reference_url, "TESTING": True})
    ref_app.config["QUEUE_URL"] = None
    for month in ("2026-09", "2026-10"):
        _cli(ref_app, "billing", "run", "--school", "S1", "--term", str(term),
             "--month", month, "--issued-on", f"{month}-01")  # fmt: skip
    _cli(ref_app, "documents", "render", "--school", "S1", "--period", f"term:{term}",
         "--out", str(tmp_path / "reference"), "--workers", "1")  # fmt: skip

    # Through the queue: retries without waiting, so the burst workers see them.
    app = make_app(
        {
            "DATABASE_URL": throwaway_url,
            "TESTING": True,
            "QUEUE_URL": REDIS_URL,
            "QUEUE_NAME": queue_name,
            "QUEUE_RETRY_INTERVALS": "0,0,0",
        }
    )
    client = app.test_client()

    def api(method: str, path: str, token: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return client.open(path, method=method, headers=headers, **kw)

    september = ["billing", "run", "--school", "S1", "--term", str(term),
                 "--month", "2026-09", "--issued-on", "2026-09-01", "--queue"]  # fmt: skip
    sept_jobs = [_queued_id(_cli(app, *september)) for _ in range(2)]

    october = {"term": term, "month": "2026-10", "issued_on": "2026-10-01"}
    key = {"Idempotency-Key": f"october-{uuid.uuid4().hex}"}
    first = api("POST", "/api/v1/schools/S1/billing-runs", queued["finance"], json=october,
                headers=key)  # fmt: skip
    assert first.status_code == 202, first.get_json()
    oct_job = first.get_json()["id"]
    assert first.headers["Location"] == f"/api/v1/jobs/{oct_job}"
    assert first.get_json()["status"] == "queued"
    again = api("POST", "/api/v1/schools/S1/billing-runs", queued["finance"], json=october,
                headers=key)  # fmt: skip
    assert again.status_code == 202 and again.get_json()["id"] == oct_job
    other = api("POST", "/api/v1/schools/S1/billing-runs", queued["finance"],
                json={**october, "due_days": 30}, headers=key)  # fmt: skip
    assert other.status_code == 409, other.get_json()
    # A dry run is answered at once, and queue=false runs in the request, as before.
    dry = api("POST", "/api/v1/schools/S1/billing-runs", queued["finance"],
              json={**october, "dry_run": True})  # fmt: skip
    assert dry.status_code == 200 and len(dry.get_json()["charges"]) == STUDENTS

    # The same October run once more, by a job whose first attempt fails: RQ retries it.
    from api import queue as q

    with app.app_context():
        flaky = q.get_queue(app).enqueue_call(
            "test_queue_runs_batches_with_two_workers.flaky_billing_run",
            kwargs={
                "school": "S1",
                "term": term,
                "month": "2026-10",
                "issued_on": "2026-10-01",
                "due_days": 15,
                "actor": "test",
            },  # fmt: skip
            meta={"kind": "billing.run", "school": "S1", "params": {}},
            retry=q.retry_policy(app),
        )
    marker = tmp_path / "flaky-marker"
    _run_two_workers(throwaway_url, queue_name, tmp_path, marker)
    assert marker.exists()  # the first attempt did fail

    def job(job_id: str, token: str = queued["finance"]) -> dict[str, Any]:
        r = api("GET", f"/api/v1/jobs/{job_id}", token)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    billed = [job(j) for j in (*sept_jobs, oct_job, flaky.id)]
    for view in billed:
        assert (view["status"], view["outcome"]) == ("finished", "done"), view
        assert view["kind"] == "billing.run" and view["school"] == "S1"
    # Each month billed once whichever job came first; the other found it billed.
    for pair in (billed[:2], billed[2:]):
        assert sorted(v["result"]["charges"] for v in pair) == [0, STUDENTS], pair
        assert sorted(v["result"]["already_billed"] for v in pair) == [0, STUDENTS], pair
    assert billed[3]["retries_left"] < 3  # retried at least once
    assert job(oct_job, queued["auditor"])["id"] == oct_job
    stranger = api("GET", f"/api/v1/jobs/{oct_job}", queued["stranger"])
    assert stranger.status_code == 404
    assert api("GET", "/api/v1/jobs/no-such-job", queued["finance"]).status_code == 404

    # The notices of the term, and of September again, sent at once to the two workers.
    batch = ["documents", "render", "--school", "S1", "--workers", "1", "--queue"]
    doc_jobs = [
        _queued_id(_cli(app, *batch, "--period", f"term:{term}")),
        _queued_id(_cli(app, *batch, "--period", "2026-09")),
        _queued_id(_cli(app, *batch, "--period", f"term:{term}")),
    ]
    _run_two_workers(throwaway_url, queue_name, tmp_path, marker)
    rendered = [job(j) for j in doc_jobs]
    for view in rendered:
        assert (view["status"], view["outcome"]) == ("finished", "done"), view
    assert [v["result"]["documents"] for v in rendered] == [2 * STUDENTS, STUDENTS, 2 * STUDENTS]
    # Rendered once each; on PostgreSQL two workers may both render a notice, and the
    # archive keeps the first (its unique key), so count what was archived, below.
    assert sum(v["result"]["rendered"] for v in rendered) >= 2 * STUDENTS

    # Writing the archived notices out renders nothing again.
    out = _cli(app, "documents", "render", "--school", "S1", "--period", f"term:{term}",
               "--out", str(tmp_path / "queued"))  # fmt: skip
    assert f"0 rendered, {2 * STUDENTS} already issued" in out.stdout

    got, want = _fingerprint(throwaway_url), _fingerprint(reference_url)
    assert got["duplicate_keys"] == []
    assert len(got["entries"]) == 2 * STUDENTS
    assert got["entries"] == want["entries"]
    assert got["invoices"] == want["invoices"]
    assert [seq for _, _, seq, *_ in got["invoices"]] == list(range(1, 2 * STUDENTS + 1))
    assert got["counters"] == want["counters"]
    assert len(got["documents"]) == 2 * STUDENTS
    assert got["documents"] == want["documents"]
    assert sorted(p.name for p in (tmp_path / "queued").iterdir()) == sorted(
        p.name for p in (tmp_path / "reference").iterdir()
    )


def test_without_a_queue_everything_runs_in_process_and_queue_is_refused(app, tokens, db):
    """The embedded default: no KEHOU_QUEUE_URL, no Redis needed, nothing queued."""
    from api import queue as q

    assert app.config["QUEUE_URL"] is None
    with app.app_context():
        assert not q.is_configured()
        assert q.fetch("anything") is None
    r = app.test_cli_runner().invoke(
        args=["billing", "run", "--school", "S1", "--term", "1", "--queue"]
    )
    assert r.exit_code != 0 and "queue_not_configured" in r.stderr
    r = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert r.exit_code != 0 and "KEHOU_QUEUE_URL" in r.stderr
    district, school, term = school_with_term(db)
    standard_and_policy(db, district)
    enrolled_student(db, district, school, term, programme(db, school, term), "甲")
    finance, token = create_user(db, "fin-local@queue.test", "finance")
    link(db, finance, school=school.code)
    db.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "local-1"}
    body = {"term": term.id, "month": "2026-09", "issued_on": "2026-09-01"}
    refused = client.post(
        "/api/v1/schools/S1/billing-runs", json={**body, "queue": True}, headers=headers
    )
    assert refused.status_code == 422 and refused.get_json()["code"] == "queue_not_configured"
    done = client.post("/api/v1/schools/S1/billing-runs", json=body, headers=headers)
    assert done.status_code == 201 and len(done.get_json()["charges"]) == 1
    assert client.get("/api/v1/jobs/x", headers=headers).status_code == 404
    # A queue that does not answer: 503, nothing queued, nothing billed.
    app.config["QUEUE_URL"] = "redis://127.0.0.1:1/0"
    down = client.post(
        "/api/v1/schools/S1/billing-runs",
        json={**body, "month": "2026-10"},
        headers={**headers, "Idempotency-Key": "local-2"},
    )
    assert down.status_code == 503 and down.get_json()["code"] == "queue_unavailable"
    status = client.get("/api/v1/jobs/x", headers=headers)
    assert status.status_code == 503


def test_the_worker_drops_the_parents_connections_in_each_work_horse(make_app, tmp_path):
    """RQ forks a work horse per job: the horse must not use its parent's pooled connections."""
    from api.queue import KehouWorker

    app = make_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}", "TESTING": True})
    with app.app_context():
        from api.database import get_db

        get_db().ensure(app)
        engine = get_db().engine
        with engine.connect():
            pass
        assert engine.pool.checkedin() == 1
        from api.queue import _dispose_inherited_engine

        _dispose_inherited_engine()
        assert engine.pool.checkedin() == 0
    assert "main_work_horse" in KehouWorker.__dict__
