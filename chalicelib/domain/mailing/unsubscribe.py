"""One-click unsubscribe tokens (ADM-2, RFC 8058).

A token is ``<tenant id>.<signed position>``: the position ({address digest,
contact, mailing}) signed by the same codec and key that sign page cursors
(domain/shared/pagination.py), under a scope of its own (``mailing.unsubscribe``),
so a list cursor is never an unsubscribe token and the reverse. The tenant in
front only says which tenant's scope to check the signature against: changing
it breaks the signature. The token holds a digest of the address, never the
address itself (it travels in URLs and logs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chalicelib.domain.shared.errors import BadRequest, NotFound
from chalicelib.domain.shared.pagination import CursorCodec, QueryScope

SCOPE = "mailing.unsubscribe"


def address_digest(address: str) -> str:
    """What the suppression list keeps of an address: never the address itself."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class Unsubscribe:
    tenant_id: str
    digest: str
    contact_id: str
    mailing_id: str


class UnsubscribeTokens:
    def __init__(self, codec: CursorCodec):
        self._codec = codec

    def issue(self, tenant_id: str, address: str, contact_id: str, mailing_id: str) -> str:
        position = {"h": address_digest(address), "c": contact_id, "m": mailing_id}
        return f"{tenant_id}.{self._codec.encode(position, QueryScope(tenant_id, SCOPE))}"

    def read(self, token: str) -> Unsubscribe:
        """The token's content; NotFound (404, like an unknown web form key) when forged or altered."""
        tenant_id, _, signed = (token or "").partition(".")
        if not tenant_id or not signed or len(token) > 1000 or "#" in tenant_id:
            raise NotFound("The unsubscribe link is not valid.")
        try:
            position = self._codec.decode(signed, QueryScope(tenant_id, SCOPE))
        except BadRequest:
            raise NotFound("The unsubscribe link is not valid.") from None
        values = [position.get(k) for k in ("h", "c", "m")]
        if not all(isinstance(v, str) and v for v in values):
            raise NotFound("The unsubscribe link is not valid.")
        return Unsubscribe(tenant_id, str(values[0]), str(values[1]), str(values[2]))
