"""Tags with their counts; admins rename and delete them (CON-6, SET-12)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.records.limits import MAX_SYNC_RECORDS
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import JSON, Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.jobs.service import BackgroundJob
    from chalicelib.domain.records.tags import TagQuery, TagRename
    from chalicelib.handlers.records.views import TagView


bp = Blueprint(__name__)
TAG = "Tags"


def _name(raw: str) -> str:
    # API Gateway and chalice pass path parameters still URL-encoded.
    return unquote(raw)


def _accepted(job: BackgroundJob) -> Response:
    status_url = f"/v1/jobs/{job.id}"
    return Response(
        body=json.dumps({"job_id": job.id, "status_url": status_url}),
        status_code=202,
        headers={"Content-Type": JSON, "Location": status_url},
    )


_LARGE = (
    f"Admins only. `name` in the path is URL-encoded and matched ignoring case and accents. A tag on more "
    f"than {MAX_SYNC_RECORDS} records is changed by a background job: 202 "
    '`{"job_id", "status_url"}`; follow `GET /v1/jobs/{id}`.'
)


@route(
    bp,
    "/v1/tags",
    "GET",
    summary="The tenant's tags, by name, with how many records you can see carry each",
    tag=TAG,
    query=TagQuery,
    response=TagView,
    paged=True,
)
def list_tags(call: Call) -> Page[TagView]:
    page = call.page_request("tags.list", entity=call.query.entity.value)
    return call.page(container().tags.list(call.caller, call.query.entity.value, page), TagView.of)


@route(
    bp,
    "/v1/tags/{entity}/{name}",
    "PATCH",
    summary="Rename a tag on every record (onto another tag: merge)",
    tag=TAG,
    body=TagRename,
    response=TagView,
    errors=(404, 409),
    description=_LARGE,
)
def rename_tag(entity: str, name: str, call: Call) -> Any:
    outcome = container().tags.rename(call.caller, call.tenant, entity, _name(name), call.body.name)
    return _accepted(outcome) if isinstance(outcome, BackgroundJob) else TagView.of(outcome)


@route(
    bp,
    "/v1/tags/{entity}/{name}",
    "DELETE",
    summary="Remove a tag from every record",
    tag=TAG,
    status=204,
    errors=(404, 409),
    description=_LARGE,
)
def delete_tag(entity: str, name: str, call: Call) -> Any:
    job = container().tags.delete(call.caller, call.tenant, entity, _name(name))
    return _accepted(job) if job is not None else None
