"""``kehou worker`` and the ``--queue`` halves of ``billing run`` and ``documents render``.

See :mod:`api.queue` for why RQ and the rules the jobs follow.
"""

from __future__ import annotations

import datetime as dt
import logging

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select


def _require_queue() -> None:
    from . import queue

    if not queue.is_configured():
        raise click.ClickException(
            "queue_not_configured: set KEHOU_QUEUE_URL (redis://127.0.0.1:6379/0) to use --queue"
        )


def _queued(kind: str, job_id: str) -> None:
    click.echo(
        f"queued {kind} as job {job_id} on queue {current_app.config['QUEUE_NAME']}; "
        f"follow it with GET /api/v1/jobs/{job_id}"
    )
    click.echo(job_id)


def enqueue_billing(
    school_code: str,
    term_id: int,
    month: str | None,
    issued_on: dt.datetime | None,
    due_days: int,
) -> None:
    """Check the school and term now (a typo fails here, not on a worker), then enqueue."""
    from ledger.school.models import School, Term

    from . import queue
    from .cli import _cli_actor, unit_of_work

    _require_queue()
    with unit_of_work() as db:
        school = db.scalar(select(School).where(School.code == school_code))
        if school is None:
            raise click.ClickException(f"not_found: no school {school_code}")
        term = db.get(Term, term_id)
        if term is None or term.school_id != school.id:
            raise click.ClickException(f"not_found: no term {term_id} at school {school_code}")
    params = {
        "school": school_code,
        "term": term_id,
        "month": month,
        "issued_on": (issued_on.date() if issued_on else dt.date.today()).isoformat(),
        "due_days": due_days,
    }
    job, _ = queue.enqueue("billing.run", params, school=school_code, actor=_cli_actor())
    _queued("billing run", job.id)


def enqueue_documents(school_code: str, period: str, lang: str, workers: int | None) -> None:
    from invoices.batch import invoices_for_period
    from ledger.school.models import School

    from . import queue
    from .cli import _cli_actor, unit_of_work

    _require_queue()
    with unit_of_work() as db:
        school = db.scalar(select(School).where(School.code == school_code))
        if school is None:
            raise click.ClickException(f"not_found: no school {school_code}")
        invoices_for_period(db, school, period)  # refuses a bad period here
    params = {"school": school_code, "period": period, "language": lang, "workers": workers}
    job, _ = queue.enqueue("documents.render", params, school=school_code, actor=_cli_actor())
    _queued("document batch", job.id)


@click.command(
    "worker",
    help="Run an RQ worker for billing runs and document batches (needs KEHOU_QUEUE_URL).",
)
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option(
    "--simple",
    is_flag=True,
    help="Run jobs in the worker process instead of a forked work horse per job.",
)
@click.option(
    "--queue",
    "queue_names",
    multiple=True,
    help="Queue name(s) to listen on (default: KEHOU_QUEUE_NAME, 'kehou').",
)
@click.option("--max-jobs", type=click.IntRange(1), default=None, help="Stop after N jobs.")
@with_appcontext
def worker_command(
    burst: bool, simple: bool, queue_names: tuple[str, ...], max_jobs: int | None
) -> None:
    from . import queue

    _require_queue()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    worker = queue.make_worker(app, simple=simple, queue_names=list(queue_names) or None)
    names = ", ".join(q.name for q in worker.queues)
    click.echo(f"worker {worker.name} on {names} (database {_db_label(app)})", err=True)
    logging.basicConfig(level=logging.INFO)
    worker.work(burst=burst, max_jobs=max_jobs, with_scheduler=True, logging_level="INFO")


def _db_label(app) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy.engine import make_url

    return make_url(app.config["DATABASE_URL"]).render_as_string(hide_password=True)
