"""Batch work through a task queue: RQ on Redis when ``KEHOU_QUEUE_URL`` is set.

Billing runs and fee-notice batches are long, and a district office wants them
on worker processes rather than in a web request. With ``KEHOU_QUEUE_URL``
(``redis://127.0.0.1:6379/0``) they are sent to an RQ queue and run by
``kehou worker``; without it they run in-process, as they always did, so the
embedded SQLite default needs no server at all.

Why RQ rather than Celery or Dramatiq: the jobs here are few, long and
coarse (a whole billing period, a whole batch of notices), they need Redis
only, and their safety comes from the domain (billing is idempotent per
enrolment and period, a notice is archived once under a unique key), not
from the queue's delivery guarantees. RQ is the smallest well-known queue
that fits: jobs are plain importable functions with JSON-able arguments,
its worker is one command, results and failures are kept in Redis and
readable by job id (``GET /api/v1/jobs/<id>``), and ``Retry`` covers
transient errors. Celery brings a broker abstraction, a result backend
and a much larger configuration surface this project would not use;
Dramatiq is lean too, but keeps no job status or result without extra
middleware, which the status endpoint needs.

Rules every job follows (``api/jobs.py``):

* it carries only codes, ids, periods and dates, never ORM objects;
* it opens its own database session from the app's configuration
  (``KEHOU_DATABASE_URL``), commits once, and records an audit line;
* it is idempotent, so a retry or a second enqueue of the same work posts and
  numbers nothing twice;
* a refusal by the domain (a closed period, an unknown term) is its outcome,
  returned and kept, not retried; anything else (a lost connection, a lock
  or a unique-key race with another worker) raises and is retried after
  ``KEHOU_QUEUE_RETRY_INTERVALS`` seconds.

Fork safety: RQ's default worker forks a work horse per job. The horse
disposes of any engine pool it inherited (``dispose(close=False)``), so a
connection is never shared between processes; ``--simple`` runs jobs in
the worker process itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job

from ledger.books.errors import IdempotencyConflict

#: Job kinds and the functions that run them (imported by the worker by name).
JOBS = {
    "billing.run": "api.jobs.billing_run",
    "documents.render": "api.jobs.documents_render",
}


class QueueNotConfigured(RuntimeError):
    pass


def is_configured(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("QUEUE_URL"))


def connection(app: Flask | None = None) -> Redis:
    app = app or current_app
    url = app.config.get("QUEUE_URL")
    if not url:
        raise QueueNotConfigured("no queue: set KEHOU_QUEUE_URL (redis://host:6379/0)")
    return Redis.from_url(url, socket_connect_timeout=5)


def get_queue(app: Flask | None = None) -> Queue:
    app = app or current_app
    return Queue(
        app.config["QUEUE_NAME"],
        connection=connection(app),
        default_timeout=int(app.config["QUEUE_JOB_TIMEOUT"]),
    )


def retry_policy(app: Flask | None = None) -> Retry | None:
    """One retry per interval in ``QUEUE_RETRY_INTERVALS`` ("10,60,300"); empty: none."""
    raw = str((app or current_app).config.get("QUEUE_RETRY_INTERVALS") or "").strip()
    intervals = [int(x) for x in raw.split(",") if x.strip()]
    if not intervals:
        return None
    return Retry(max=len(intervals), interval=intervals)


def idempotent_job_id(kind: str, school: str, key: str, app: Flask | None = None) -> str:
    """The job an API Idempotency-Key names: the same key on the same queue, the same job."""
    queue_name = (app or current_app).config["QUEUE_NAME"]
    digest = hashlib.sha256(f"{queue_name}\0{kind}\0{school}\0{key}".encode()).hexdigest()
    return f"{kind.split('.')[0]}-{digest[:32]}"


def enqueue(
    kind: str,
    params: Mapping[str, Any],
    *,
    school: str,
    actor: str,
    job_id: str | None = None,
    app: Flask | None = None,
) -> tuple[Job, bool]:
    """Send a job; returns it and whether it is new.

    ``params`` are the job function's keyword arguments: plain values only. With
    ``job_id`` (from :func:`idempotent_job_id`) a second enqueue of the same
    parameters returns the first job; of other parameters, 409.
    """
    app = app or current_app
    queue = get_queue(app)
    meta = {"kind": kind, "school": school, "actor": actor, "params": dict(params)}
    try:
        job = queue.enqueue_call(
            JOBS[kind],
            kwargs={**params, "actor": actor},
            job_id=job_id,
            unique=job_id is not None,
            meta=meta,
            retry=retry_policy(app),
            result_ttl=int(app.config["QUEUE_RESULT_TTL"]),
            failure_ttl=int(app.config["QUEUE_RESULT_TTL"]),
            description=f"{kind} {school} " + " ".join(f"{k}={v}" for k, v in params.items()),
        )
    except DuplicateJobError:
        job = Job.fetch(job_id, connection=queue.connection)
        if job.meta.get("params") != meta["params"] or job.meta.get("school") != school:
            raise IdempotencyConflict(
                "this Idempotency-Key queued a different job", field="Idempotency-Key"
            ) from None
        return job, False
    return job, True


def fetch(job_id: str, app: Flask | None = None) -> Job | None:
    """A job of this deployment's queue by id, or None (unknown, expired, or another queue's)."""
    app = app or current_app
    if not is_configured(app):
        return None
    try:
        job = Job.fetch(job_id, connection=connection(app))
    except NoSuchJobError:
        return None
    if job.origin != app.config["QUEUE_NAME"] or "kind" not in job.meta:
        return None
    return job


def job_view(job: Job) -> dict[str, Any]:
    """What the API and the CLI show of a job: state, timings, outcome, last error."""
    status = job.get_status(refresh=True)
    result = job.return_value() if status == "finished" else None
    error = None
    if status == "failed":
        latest = job.latest_result()
        text = (latest.exc_string if latest else None) or job.exc_info or ""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        error = lines[-1][:500] if lines else "failed"
    outcome = None
    if status == "finished":
        outcome = "refused" if isinstance(result, dict) and result.get("refused") else "done"
    return {
        "id": job.id,
        "kind": job.meta.get("kind"),
        "school": job.meta.get("school"),
        "params": job.meta.get("params", {}),
        "status": str(status.value if hasattr(status, "value") else status),
        "outcome": outcome,
        "result": result,
        "error": error,
        "retries_left": job.retries_left,
        "enqueued_at": job.enqueued_at,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
    }


# --------------------------------------------------------------------------- the worker


def _dispose_inherited_engine() -> None:
    """In a forked work horse: drop the parent's pooled connections without closing them."""
    from .database import get_db

    db = get_db()
    if db.engine is not None:
        db.engine.dispose(close=False)


class KehouWorker(Worker):
    """RQ's forking worker; each work horse starts with no database connection of its parent's."""

    def main_work_horse(self, job: Job, queue: Queue) -> None:  # type: ignore[override]
        _dispose_inherited_engine()
        super().main_work_horse(job, queue)


def make_worker(
    app: Flask, *, simple: bool = False, queue_names: list[str] | None = None
) -> Worker:
    conn = connection(app)
    queues = [
        Queue(name, connection=conn, default_timeout=int(app.config["QUEUE_JOB_TIMEOUT"]))
        for name in (queue_names or [app.config["QUEUE_NAME"]])
    ]
    # Load the jobs and WeasyPrint once, here, so that each forked work horse starts warm;
    # nothing here opens a database connection.
    import invoices.render  # noqa: F401

    from . import jobs  # noqa: F401

    cls = SimpleWorker if simple else KehouWorker
    return cls(queues, connection=conn)
