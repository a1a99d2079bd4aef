"""Group operations on contacts (CON-13) and merging two contacts."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.contacts.limits import SYNC_LIMIT
from chalicelib.handlers.http.routing import JSON, Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.contacts.bulk import BulkRequest
    from chalicelib.domain.contacts.merge import MergeRequest
    from chalicelib.domain.jobs.service import BackgroundJob
    from chalicelib.handlers.contacts.views import BulkResultView, ContactView, JobAcceptedView


bp = Blueprint(__name__)
TAG = "Contacts"


@route(
    bp,
    "/v1/contacts/bulk",
    "POST",
    summary="Change or delete many contacts at once",
    tag=TAG,
    body=BulkRequest,
    response=BulkResultView,
    description=f"Each contact is checked and changed on its own. Up to {SYNC_LIMIT} ids: 200 with every "
    "outcome (`failed` items have `status` 404 not_found, 403 forbidden, 409 conflict or 422 "
    f'invalid). More: 202 `{{"job_id", "status_url"}}` (JobAcceptedView); follow '
    "`GET /v1/jobs/{id}`.",
)
def bulk_contacts(call: Call) -> Any:
    outcome = container().contact_bulk.submit(call.caller, call.tenant, call.body)
    if isinstance(outcome, BackgroundJob):
        accepted = JobAcceptedView(job_id=outcome.id, status_url=f"/v1/jobs/{outcome.id}")
        return Response(
            body=json.dumps(accepted.model_dump()),
            status_code=202,
            headers={"Content-Type": JSON, "Location": accepted.status_url},
        )
    return BulkResultView.model_validate(outcome.model_dump())


@route(
    bp,
    "/v1/contacts/merge",
    "POST",
    summary="Merge one contact into another",
    tag=TAG,
    body=MergeRequest,
    response=ContactView,
    errors=(404, 409, 412),
    description="`into_id` survives with `from_id`'s details, tags, managers, custom values and empty "
    "fields filled; `from_id`'s history, files, persons and photo move over; then `from_id` is "
    "deleted. Needs delete on `from_id`, write on `into_id` (and changing access when managers "
    "are added). Optional `If-Match`: `into_id`'s version.",
)
def merge_contacts(call: Call) -> ContactView:
    survivor = container().contact_merge.merge(
        call.caller, call.tenant, call.body, expected_version=call.optional_version()
    )
    return ContactView.of(survivor)
