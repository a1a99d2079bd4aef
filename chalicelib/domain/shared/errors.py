"""The one error hierarchy. Services raise these; handlers/http/problems.py maps
them to RFC 9457 problem+json; storage maps AWS errors onto them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class CrmError(Exception):
    title = "Error"

    def __init__(self, detail: str = "", *, errors: list[FieldError] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors or [])


class BadRequest(CrmError):
    title = "Bad request"


class Unauthorized(CrmError):
    title = "Not authenticated"


class Forbidden(CrmError):
    title = "Forbidden"


class NotFound(CrmError):
    """Also what a caller gets for a record they may not see."""

    title = "Not found"


class Conflict(CrmError):
    title = "Conflict"


class PreconditionFailed(CrmError):
    """The If-Match version is not the stored one."""

    title = "Precondition failed"


class PreconditionRequired(CrmError):
    """A write that must name the version it changes (If-Match) did not."""

    title = "Precondition required"


class PayloadTooLarge(CrmError):
    title = "Payload too large"


class UnsupportedMediaType(CrmError):
    title = "Unsupported media type"


class ValidationFailed(CrmError):
    title = "Validation failed"


class TooManyRequests(CrmError):
    title = "Too many requests"

    def __init__(self, detail: str = "", *, retry_after: int = 60):
        super().__init__(detail)
        self.retry_after = retry_after


class TemporarilyUnavailable(CrmError):
    """A dependency throttled or timed out after retries; the caller may retry."""

    title = "Temporarily unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 2):
        super().__init__(detail)
        self.retry_after = retry_after
