"""Domain errors -> RFC 9457 application/problem+json."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response
from pydantic import ValidationError

from chalicelib.domain.shared import errors

PROBLEM_TYPE = "application/problem+json"

_STATUS: list[tuple[type[errors.CrmError], int]] = [
    (errors.BadRequest, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PreconditionFailed, 412),
    (errors.PreconditionRequired, 428),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.ValidationFailed, 422),
    (errors.TooManyRequests, 429),
    (errors.TemporarilyUnavailable, 503),
]

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    428: "Precondition required",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    503: "Temporarily unavailable",
}


def status_of(error: errors.CrmError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def type_uri(status: int) -> str:
    return f"https://crm.invalid/problems/{status}"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    field_errors: list[errors.FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_uri(status),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field_errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in field_errors]
    return Response(
        body=json.dumps(body), status_code=status, headers={"Content-Type": PROBLEM_TYPE, **(headers or {})}
    )


def from_error(error: errors.CrmError) -> Response:
    status = status_of(error)
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        # RFC 9110 11.6.1: a 401 names the scheme the client must use.
        headers["WWW-Authenticate"] = 'Bearer realm="crm"'

    return problem(
        status, error.detail, title=error.title, field_errors=error.errors if status == 422 else None, headers=headers
    )


def field_errors(err: ValidationError, *, location: str = "") -> list[errors.FieldError]:
    """pydantic errors as [{field, message}]; never echoes the submitted input."""
    found = []
    for item in err.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in item.get("loc", ()))
        if location:
            path = f"{location}.{path}" if path else location
        found.append(errors.FieldError(path or "body", item.get("msg", "invalid")))
    return found


def validation_failed(err: ValidationError, *, location: str = "") -> errors.ValidationFailed:
    return errors.ValidationFailed("The request has invalid fields.", errors=field_errors(err, location=location))
