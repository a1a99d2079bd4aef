"""GDPR (issue 18): one person's data as a ZIP, and their erasure (admins).
Both run in the background: 202 with a status URL; a finished export's status
carries a short-lived ``download_url``."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.gdpr.service import GdprJob, GdprKind
    from chalicelib.handlers.gdpr.views import GdprJobView, GdprStarted


bp = Blueprint(__name__)
TAG = "GDPR"


def _started(job: GdprJob) -> GdprStarted:
    return GdprStarted(job_id=job.id, status_url=f"/v1/contacts/{job.contact_id}/{job.kind.value}/{job.id}")


@route(
    bp,
    "/v1/contacts/{contact_id}/export",
    "GET",
    summary="Export everything about one person as a ZIP (admins; built in the background)",
    tag=TAG,
    response=GdprStarted,
    status=202,
    errors=(403, 404),
    description="Record, details, history with files, tasks, deals, cases, calls with recordings, mailing results, "
    "change log. Poll `status_url`; when done, `result.download_url` is the ZIP.",
)
def export_contact(contact_id: str, call: Call) -> GdprStarted:
    return _started(container().gdpr.start(call.caller, GdprKind.EXPORT, contact_id))


@route(
    bp,
    "/v1/contacts/{contact_id}/erase",
    "POST",
    summary="Erase one person from every record, index, file and recording (admins)",
    tag=TAG,
    response=GdprStarted,
    status=202,
    errors=(403, 404),
    description="Invoices are anonymised (kept by law); the change log keeps that an erasure happened, no values.",
)
def erase_contact(contact_id: str, call: Call) -> GdprStarted:
    return _started(container().gdpr.start(call.caller, GdprKind.ERASE, contact_id))


@route(
    bp,
    "/v1/contacts/{contact_id}/export/{job_id}",
    "GET",
    summary="An export's status and, when done, its download URL",
    tag=TAG,
    response=GdprJobView,
    errors=(404,),
)
def export_status(contact_id: str, job_id: str, call: Call) -> GdprJobView:
    return GdprJobView.of(*container().gdpr.get(call.caller, contact_id, GdprKind.EXPORT, job_id))


@route(
    bp,
    "/v1/contacts/{contact_id}/erase/{job_id}",
    "GET",
    summary="An erasure's status",
    tag=TAG,
    response=GdprJobView,
    errors=(404,),
)
def erase_status(contact_id: str, job_id: str, call: Call) -> GdprJobView:
    return GdprJobView.of(*container().gdpr.get(call.caller, contact_id, GdprKind.ERASE, job_id))
