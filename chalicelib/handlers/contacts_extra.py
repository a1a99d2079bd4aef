"""Contacts: photo (CON-7), group operations (CON-13) and merge."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel

from chalicelib import services
from chalicelib.domain.background_jobs import BackgroundJob
from chalicelib.domain.contact_bulk import SYNC_LIMIT, BulkRequest
from chalicelib.domain.contact_merge import MergeRequest
from chalicelib.domain.contact_photo import MAX_PHOTO_BYTES, MEDIA_TYPES, SHOWN_FORMATS, URL_SECONDS
from chalicelib.domain.contacts import Contact
from chalicelib.handlers.contacts import ContactView
from chalicelib.handlers.routing import JSON, Call, route

bp = Blueprint(__name__)
TAG = "Contacts"


class PhotoView(BaseModel):
    contact_id: str
    contact_version: int
    content_type: str
    width: int
    height: int
    size: int
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> "PhotoView":
        photo = contact.photo or {}
        return cls(contact_id=contact.id, contact_version=contact.version, **photo)


class BulkFailureView(BaseModel):
    id: str
    status: int
    reason: str
    detail: str


class BulkResultView(BaseModel):
    succeeded: list[str]
    failed: list[BulkFailureView]


class JobAcceptedView(BaseModel):
    job_id: str
    status_url: str


_IF_MATCH_NOTE = ("`If-Match` is optional: when sent it must be the contact's version (412 if stale); "
                  "without it a concurrent change is retried once.")


@route(bp, "/v1/contacts/{contact_id}/photo", "PUT", summary="Upload the contact's photo (the image bytes)",
       tag=TAG, content_types=MEDIA_TYPES, response=PhotoView, errors=(404, 409, 412, 422),
       description=f"The body is the image, at most {MAX_PHOTO_BYTES // 1024} KB, in a format browsers show "
                   f"({SHOWN_FORMATS}; the bytes decide, not the Content-Type). It is scaled to fit 200x300 "
                   "and stored as PNG (transparent) or JPEG. Needs write access. " + _IF_MATCH_NOTE)
def put_photo(contact_id: str, call: Call) -> PhotoView:
    contact = services.contact_photos().put(call.caller, contact_id, call.raw_body,
                                            expected_version=call.optional_version())
    return PhotoView.of(contact)


@route(bp, "/v1/contacts/{contact_id}/photo", "GET", summary="The contact's photo (redirect)", tag=TAG,
       status=302, produces="text/plain", errors=(404,),
       description=f"302 to a presigned URL of the image, valid {URL_SECONDS // 60} minutes. 404 when the "
                   "contact has no photo.")
def get_photo(contact_id: str, call: Call) -> Response:
    url = services.contact_photos().download_url(call.caller, contact_id)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(bp, "/v1/contacts/{contact_id}/photo", "DELETE", summary="Remove the contact's photo", tag=TAG,
       status=204, errors=(404, 409, 412), description="Needs write access; 404 when there is no photo. "
                                                       + _IF_MATCH_NOTE)
def delete_photo(contact_id: str, call: Call) -> None:
    services.contact_photos().delete(call.caller, contact_id, expected_version=call.optional_version())


@route(bp, "/v1/contacts/bulk", "POST", summary="Change or delete many contacts at once", tag=TAG,
       body=BulkRequest, response=BulkResultView,
       description=f"Each contact is checked and changed on its own. Up to {SYNC_LIMIT} ids: 200 with every "
                   "outcome (`failed` items have `status` 404 not_found, 403 forbidden, 409 conflict or 422 "
                   f"invalid). More: 202 `{{\"job_id\", \"status_url\"}}` (JobAcceptedView); follow "
                   "`GET /v1/jobs/{id}`.")
def bulk_contacts(call: Call) -> Any:
    outcome = services.contact_bulk().submit(call.caller, call.tenant, call.body)
    if isinstance(outcome, BackgroundJob):
        accepted = JobAcceptedView(job_id=outcome.id, status_url=f"/v1/jobs/{outcome.id}")
        return Response(body=json.dumps(accepted.model_dump()), status_code=202,
                        headers={"Content-Type": JSON, "Location": accepted.status_url})
    return BulkResultView.model_validate(outcome.model_dump())


@route(bp, "/v1/contacts/merge", "POST", summary="Merge one contact into another", tag=TAG,
       body=MergeRequest, response=ContactView, errors=(404, 409, 412),
       description="`into_id` survives with `from_id`'s details, tags, managers, custom values and empty "
                   "fields filled; `from_id`'s history, files, persons and photo move over; then `from_id` is "
                   "deleted. Needs delete on `from_id`, write on `into_id` (and changing access when managers "
                   "are added). Optional `If-Match`: `into_id`'s version.")
def merge_contacts(call: Call) -> ContactView:
    survivor = services.contact_merge().merge(call.caller, call.tenant, call.body,
                                              expected_version=call.optional_version())
    return ContactView.of(survivor)
