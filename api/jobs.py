"""The queued jobs: a billing run and a batch of fee notices, as RQ runs them.

Each takes only codes, ids, periods and ISO dates, opens its own session from
the app's configuration, commits once with an audit line naming the job, and
returns its outcome (kept by RQ and shown by ``GET /api/v1/jobs/<id>``). Both
are idempotent: billing posts only charges not yet posted for the period
(``charge:<enrolment>:<period start>``), and the batch renders only notices
not yet archived (one per invoice and language) and never numbers anything,
so a retry, or the same job sent twice, duplicates and renumbers nothing.

A refusal by the domain (unknown school or term, a closed period) is returned
as ``{"refused": true, ...}`` and not retried; anything else raises, and RQ
retries it (see :mod:`api.queue`). ``billing_in_progress`` — another run
posted some of the same charges at the same moment — is a race, so it raises
and is retried like any transient error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.books.errors import DomainError

#: Domain refusals that are races between workers, not answers: retried.
TRANSIENT_CODES = {"billing_in_progress"}


def _job_id() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None


@contextmanager
def _app_context() -> Iterator[None]:
    """The worker's app context (``kehou worker``), or a new app's (a plain ``rq worker``)."""
    if has_app_context():
        yield
        return
    from . import create_app

    with create_app().app_context():
        yield


@contextmanager
def _session() -> Iterator[Session]:
    from .database import get_db

    db = get_db().ensure(current_app)()
    try:
        yield db
        db.commit()
    finally:
        db.rollback()
        db.close()


def _refused(exc: DomainError) -> dict[str, Any]:
    return {"refused": True, "code": exc.code, "message": exc.message}


def billing_run(
    *,
    school: str,
    term: int,
    month: str | None,
    issued_on: str,
    due_days: int,
    actor: str,
    key: str | None = None,
) -> dict[str, Any]:
    """Bill a term (or ``month``, ``YYYY-MM``, of it) for a school; see module docstring."""
    from ledger.money import format_fen
    from ledger.school import billing
    from ledger.school.models import School, Term

    from .audit import record

    with _app_context():
        try:
            with _session() as db:
                s = db.scalar(select(School).where(School.code == school))
                t = db.get(Term, term)
                if s is None:
                    return {"refused": True, "code": "not_found", "message": f"no school {school}"}
                if t is None or t.school_id != s.id:
                    return {
                        "refused": True,
                        "code": "not_found",
                        "message": f"no term {term} at school {school}",
                    }
                parsed = tuple(int(x) for x in month.split("-")) if month else None
                result = billing.run_billing(
                    db,
                    s,
                    t,
                    actor=actor,
                    month=parsed,  # type: ignore[arg-type]
                    issued_on=dt.date.fromisoformat(issued_on),
                    due_days=due_days,
                )
                detail: dict[str, Any] = {
                    "charges": len(result.charges),
                    "period": str(result.period_start),
                    "job": _job_id(),
                }
                if key:
                    detail["idempotency_key"] = key
                record(
                    db,
                    "billing.run",
                    f"school:{school}/run:{result.run_id}",
                    detail,
                    actor=actor,
                )
        except DomainError as exc:
            if exc.code in TRANSIENT_CODES:
                raise
            return _refused(exc)
    return {
        "refused": False,
        "run": result.run_id,
        "period_start": result.period_start.isoformat(),
        "period_end": result.period_end.isoformat(),
        "charges": len(result.charges),
        "invoices": len(result.invoices),
        "already_billed": result.already_billed,
        "totals": {name: format_fen(fen) for name, fen in result.totals.items()},
        "numbers": [number for _, number, _ in result.invoices],
    }


def documents_render(
    *,
    school: str,
    period: str,
    language: str = "zh-CN",
    workers: int | None = None,
    actor: str,
) -> dict[str, Any]:
    """Render and archive a period's fee notices (``YYYY-MM`` or ``term:<id>``)."""
    from invoices.batch import invoices_for_period, issue_invoices
    from ledger.school.models import School

    from .audit import record

    with _app_context():
        try:
            with _session() as db:
                s = db.scalar(select(School).where(School.code == school))
                if s is None:
                    return {"refused": True, "code": "not_found", "message": f"no school {school}"}
                invoices = invoices_for_period(db, s, period)
                result = issue_invoices(
                    db, s, invoices, language=language, actor=actor, workers=workers
                )
                if result.rendered:
                    record(
                        db,
                        "documents.render",
                        f"school:{school}/period:{period}",
                        {"rendered": result.rendered, "language": language, "job": _job_id()},
                        actor=actor,
                    )
                numbers = [d.number for d in result.documents]
        except DomainError as exc:
            if exc.code in TRANSIENT_CODES:
                raise
            return _refused(exc)
    return {
        "refused": False,
        "period": period,
        "language": language,
        "documents": len(numbers),
        "rendered": result.rendered,
        "already_issued": result.already_issued,
        "numbers": numbers,
    }
