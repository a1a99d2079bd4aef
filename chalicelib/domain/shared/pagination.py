"""Pages and tamper-proof cursors.

A cursor is an opaque token: the storage position after the last item of a
page, signed with HMAC-SHA256 over the tenant, the query it belongs to and the
position. A cursor that was forged, altered, or minted for another tenant or
another query is refused with 400; it never opens anybody else's page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from chalicelib.domain.shared.errors import BadRequest, FieldError, ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    # Storage position to continue after (already verified), None for page one.
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class Slice(Generic[T]):
    """What storage returns: items and the position after the last of them."""

    items: list[T]
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class QueryScope:
    """Who asks and for what: a cursor is valid only within the same scope."""

    tenant_id: str
    query: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        canonical = json.dumps(
            {"q": self.query, "p": {k: self.params[k] for k in sorted(self.params)}},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_limit(raw: str | int | None) -> int:
    """``?limit=``: 1..200, default 50; anything else is a 422, never silently changed."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be a whole number between 1 and {MAX_LIMIT}",
            errors=[FieldError("limit", f"must be a whole number between 1 and {MAX_LIMIT}")],
        )
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes):
        if not secret:
            raise ValueError("cursor secret must not be empty")
        self._secret = secret

    def _signature(self, scope: QueryScope, payload: bytes) -> bytes:
        message = b"\n".join([scope.tenant_id.encode(), scope.fingerprint().encode(), payload])
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def encode(self, position: dict[str, Any], scope: QueryScope) -> str:
        payload = json.dumps(position, sort_keys=True, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._signature(scope, payload))}"

    def decode(self, token: str, scope: QueryScope) -> dict[str, Any]:
        invalid = BadRequest("The cursor is not valid for this query.")
        try:
            payload_text, signature_text = token.split(".")
            payload = _unb64(payload_text)
            signature = _unb64(signature_text)
        except ValueError:
            raise invalid from None
        if not hmac.compare_digest(signature, self._signature(scope, payload)):
            raise invalid
        try:
            position = json.loads(payload)
        except ValueError:
            raise invalid from None
        if not isinstance(position, dict):
            raise invalid
        return position

    def page_request(self, scope: QueryScope, *, limit: str | int | None, cursor: str | None) -> PageRequest:
        return PageRequest(
            limit=parse_limit(limit),
            after=self.decode(cursor, scope) if cursor else None,
        )

    def page(self, result: Slice[T], scope: QueryScope) -> Page[T]:
        return Page(
            items=result.items,
            next_cursor=self.encode(result.after, scope) if result.after else None,
        )
