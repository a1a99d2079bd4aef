"""Contact photos (CON-7): upload, read (a redirect) and remove."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.contacts.limits import MAX_PHOTO_BYTES, URL_SECONDS
from chalicelib.domain.shared.images import MEDIA_TYPES, SHOWN_FORMATS
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.handlers.contacts.views import PhotoView


bp = Blueprint(__name__)
TAG = "Contacts"


_IF_MATCH_NOTE = (
    "`If-Match` is optional: when sent it must be the contact's version (412 if stale); "
    "without it a concurrent change is retried once."
)


@route(
    bp,
    "/v1/contacts/{contact_id}/photo",
    "PUT",
    summary="Upload the contact's photo (the image bytes)",
    tag=TAG,
    content_types=MEDIA_TYPES,
    response=PhotoView,
    max_body=MAX_PHOTO_BYTES,  # over the JSON default (issue 19): the image bytes themselves
    errors=(404, 409, 412, 422),
    description=f"The body is the image, at most {MAX_PHOTO_BYTES // 1024} KB, in a format browsers show "
    f"({SHOWN_FORMATS}; the bytes decide, not the Content-Type). It is scaled to fit 200x300 "
    "and stored as PNG (transparent) or JPEG. Needs write access. " + _IF_MATCH_NOTE,
)
def put_photo(contact_id: str, call: Call) -> PhotoView:
    contact = container().contact_photos.put(
        call.caller, contact_id, call.raw_body, expected_version=call.optional_version()
    )
    return PhotoView.of(contact)


@route(
    bp,
    "/v1/contacts/{contact_id}/photo",
    "GET",
    summary="The contact's photo (redirect)",
    tag=TAG,
    status=302,
    produces="text/plain",
    errors=(404,),
    description=f"302 to a presigned URL of the image, valid {URL_SECONDS // 60} minutes. 404 when the "
    "contact has no photo.",
)
def get_photo(contact_id: str, call: Call) -> Response:
    url = container().contact_photos.download_url(call.caller, contact_id)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(
    bp,
    "/v1/contacts/{contact_id}/photo",
    "DELETE",
    summary="Remove the contact's photo",
    tag=TAG,
    status=204,
    errors=(404, 409, 412),
    description="Needs write access; 404 when there is no photo. " + _IF_MATCH_NOTE,
)
def delete_photo(contact_id: str, call: Call) -> None:
    container().contact_photos.delete(call.caller, contact_id, expected_version=call.optional_version())
