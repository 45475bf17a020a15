"""Queued jobs (billing runs, fee-notice batches): their state and outcome by id."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields
from redis.exceptions import RedisError

from ledger.books.errors import NotFound

from .. import queue
from ..auth import roles
from ..database import session
from ..models import Role
from ..schemas import UtcDateTime
from ..scope import school_in_scope
from . import Blueprint

blp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="Queued batch jobs")


class JobOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "billing.run or documents.render"})
    school = fields.String()
    params = fields.Dict(metadata={"description": "What the job was asked to do"})
    status = fields.String(
        metadata={"description": "queued, started, scheduled (waiting to retry), finished, failed"}
    )
    outcome = fields.String(
        allow_none=True,
        metadata={"description": "done, or refused by the domain (see result); null until done"},
    )
    result = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "Last error of a failed job"})
    retries_left = fields.Integer(allow_none=True)
    enqueued_at = UtcDateTime(allow_none=True)
    started_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    href = fields.String()


def job_out(job: Any) -> dict[str, Any]:
    return {**queue.job_view(job), "href": f"/api/v1/jobs/{job.id}"}


@blp.route("/jobs/<job_id>")
class OneJob(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.response(200, JobOut)
    def get(self, job_id: str) -> dict[str, Any]:
        """A queued job's state and outcome: finance of its school, auditors and admins."""
        try:
            job = queue.fetch(job_id) if len(job_id) <= 100 else None
        except RedisError:
            abort(503, message="the task queue does not answer", code="queue_unavailable")
        if job is None:
            raise NotFound(f"no job {job_id}")
        try:
            school_in_scope(session(), job.meta["school"])
        except NotFound:
            raise NotFound(f"no job {job_id}") from None
        return job_out(job)
