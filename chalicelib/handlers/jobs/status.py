"""The status of a background job (group operations, imports, tag changes)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.handlers.jobs.views import JobView


bp = Blueprint(__name__)
TAG = "Jobs"


@route(
    bp,
    "/v1/jobs/{job_id}",
    "GET",
    summary="Progress and result of a background job",
    tag=TAG,
    response=JobView,
    errors=(404,),
    description="Visible to the user who started the job and to admins.",
)
def get_job(job_id: str, call: Call) -> JobView:
    return JobView.of(*container().background_jobs.get(call.caller, job_id))
