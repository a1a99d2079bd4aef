"""Exports (ADM-1): everything (admins) or a filtered list (anyone), as a ZIP of CSVs."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.exports.models import NewExport
    from chalicelib.handlers.exports.views import JobStarted


bp = Blueprint(__name__)
TAG = "Exports"


@route(
    bp,
    "/v1/exports",
    "POST",
    summary="Export data as a ZIP of CSV files (a background job)",
    tag=TAG,
    body=NewExport,
    response=JobStarted,
    status=202,
    errors=(403, 422),
    description="Admins may export every entity; any user contacts, deals, tasks and cases, filtered like "
    "their lists, holding only what they can see. One CSV per entity, UTF-8 with BOM, formulas neutralised. "
    "Follow status_url; once done its result has a download_url.",
)
def start_export(call: Call) -> JobStarted:
    job = container().exports.start(call.caller, call.body)
    return JobStarted(job_id=job.id, status_url=f"/v1/jobs/{job.id}")
