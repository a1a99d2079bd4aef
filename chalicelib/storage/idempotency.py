"""Idempotent requests (``Idempotency-Key``): the first answer of a write is
kept for 24 hours and a retry with the same key gets it again.

One item per (tenant, user, route, key) under the tenant
(``keys.idempotency``), put under a condition when the request starts
(state ``in_progress``, the hash of the request body), completed with the
answer's status and body, or removed when the request failed so that the
client may retry. It expires through ``keys.expiry_attributes`` (DynamoDB TTL
plus the housekeeping index), like every expiring item of the table.

Why not Powertools' idempotency utility: its DynamoDBPersistenceLayer keys
records by a hash of the function name and payload in its own attributes
and writes only its own expiry attribute, so its items would not enter the
housekeeping index (TTL never runs on the local emulator), and it is built
to wrap a whole Lambda handler or function rather than one route among many
in a Chalice app with per-tenant keys. What it does is three conditional
writes; they are here, on our ``Table``.

Stored answers are sealed (AES-GCM, a key derived from the server secret and
the item's key): some answers carry a secret shown once (an API token, an
invitation token), and the table never holds a credential in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.domain.shared.clock import iso, utc_now
from chalicelib.domain.shared.errors import Conflict, FieldError, ValidationFailed
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Table

KEEP_FOR = timedelta(hours=24)
# A request still "in progress" after this died with its Lambda (API Gateway
# gives up after 29 s): a retry may take over.
STALE_AFTER = timedelta(minutes=2)
IN_PROGRESS = "in_progress"
DONE = "done"


class _Taken(Conflict):
    pass


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


@dataclass(frozen=True)
class IdempotentRequest:
    tenant_id: str
    user_id: str
    route: str
    key: str
    body_hash: str

    @property
    def item_key(self) -> dict[str, str]:
        return keys.idempotency(self.tenant_id, self.user_id, self.route, self.key)


def body_hash(raw: bytes) -> str:
    """The request body's hash; JSON bodies are compared as JSON values."""
    import hashlib

    try:
        canonical = json.dumps(json.loads(raw or b"{}"), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw or b""
    return hashlib.sha256(canonical).hexdigest()


def _sealing_key(secret: bytes, request: IdempotentRequest) -> bytes:
    import hashlib
    import hmac

    return hmac.new(secret, b"idempotent-answer\n" + request.item_key["pk"].encode(), hashlib.sha256).digest()


def seal(secret: bytes, request: IdempotentRequest, body: str) -> str:
    from chalicelib.storage import sealing

    return sealing.seal(_sealing_key(secret, request), request.item_key["pk"], body)


def unseal(secret: bytes, request: IdempotentRequest, sealed: str) -> str | None:
    """The body, or None when it cannot be opened (the server secret changed)."""
    from chalicelib.storage import sealing

    return sealing.unseal(_sealing_key(secret, request), request.item_key["pk"], sealed)


class IdempotencyStore:
    def __init__(
        self,
        table: Table | None = None,
        clock: Any = utc_now,
        secret: bytes | Callable[[], bytes] | None = None,
    ):
        # A callable (the container's cursor_secret) is asked on first seal or
        # unseal, so a request that replays nothing never waits for Secrets Manager.
        self._table = table or Table()
        self._clock = clock
        self._secret = secret

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            from chalicelib.config import get_settings
            from chalicelib.storage.secrets import cursor_secret

            self._secret = cursor_secret(get_settings())
        elif callable(self._secret):
            self._secret = self._secret()
        return self._secret

    @staticmethod
    def request(tenant_id: str, user_id: str, route: str, key: str, raw_body: bytes) -> IdempotentRequest:
        return IdempotentRequest(tenant_id, user_id, route, key, body_hash(raw_body))

    def begin(self, request: IdempotentRequest) -> StoredAnswer | None:
        """None: the caller goes ahead (and then completes or abandons). A
        stored answer: replay it. Conflict while the first request still runs;
        ValidationFailed when the key was used with another body."""
        now = self._clock()
        item = {
            **request.item_key,
            "state": IN_PROGRESS,
            "body_hash": request.body_hash,
            "started_at": iso(now),
            **keys.expiry_attributes(now + KEEP_FOR),
        }
        for _ in range(2):
            try:
                self._table.create(item, on_conflict=_Taken())
                return None
            except _Taken:
                pass
            found = self._table.get(request.item_key, consistent=True)
            if found is None:
                continue
            if int(found.get("ttl", 0)) <= int(now.timestamp()):
                # Expired but not purged yet: it no longer counts.
                self._table.delete_if(request.item_key, "ttl", "<=", int(now.timestamp()))
                continue
            if found.get("body_hash") != request.body_hash:
                raise ValidationFailed(
                    "This Idempotency-Key was used with a different request body; use a new key.",
                    errors=[FieldError("Idempotency-Key", "reused with a different body")],
                )
            if found.get("state") != DONE and found.get("started_at", "") < iso(now - STALE_AFTER):
                self._table.delete_if(request.item_key, "started_at", "=", found.get("started_at", ""))
                continue
            if found.get("state") != DONE:
                raise Conflict("A request with this Idempotency-Key is still in progress; retry later.")
            body = unseal(self.secret, request, found.get("sealed_body") or "")
            if body is None:
                raise Conflict("The answer kept for this Idempotency-Key can no longer be read; use a new key.")
            return StoredAnswer(int(found["status"]), body)
        raise Conflict("A request with this Idempotency-Key is still in progress; retry later.")

    def complete(self, request: IdempotentRequest, answer: StoredAnswer | tuple[int, str]) -> None:
        if not isinstance(answer, StoredAnswer):
            answer = StoredAnswer(*answer)
        self._table.update(
            request.item_key,
            set={"state": DONE, "status": answer.status, "sealed_body": seal(self.secret, request, answer.body)},
            bump_version=False,
            must_exist=False,
        )

    def abandon(self, request: IdempotentRequest) -> None:
        """The request failed: forget the key so that a retry runs again."""
        self._table.delete(request.item_key)
