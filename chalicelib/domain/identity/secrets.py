"""Passwords and bearer secrets. Neither is ever stored or logged in clear.

Passwords: scrypt (stdlib) with a per-password salt. Bearer secrets (login
tokens, API tokens, invitations) are 256 random bits, so a plain SHA-256 is
enough to store them; comparison is constant-time.

A bearer token names where its hash lives, so checking it is one key lookup
and the tenant comes from the credential itself:
``crm_<kind>.<tenant_id>.<user_id>.<token_id>.<secret>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password(password: str, stored: str | None) -> bool:
    """Constant work whether or not there is a stored hash (no account oracle)."""
    if not stored:
        hash_password(password)  # same cost as a real check
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass(frozen=True)
class BearerToken:
    kind: str  # "session", "api" or "invite"
    tenant_id: str
    user_id: str
    token_id: str
    secret: str

    def __str__(self) -> str:
        return f"crm_{self.kind}.{self.tenant_id}.{self.user_id}.{self.token_id}.{self.secret}"

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)

    @classmethod
    def new(cls, kind: str, tenant_id: str, user_id: str, token_id: str) -> "BearerToken":
        return cls(kind, tenant_id, user_id, token_id, secrets.token_urlsafe(32))

    @classmethod
    def parse(cls, text: str) -> "BearerToken | None":
        if not text.startswith("crm_") or len(text) > 300:
            return None
        parts = text[4:].split(".")
        if len(parts) != 5 or not all(parts):
            return None
        kind, tenant_id, user_id, token_id, secret = parts
        if kind not in ("session", "api", "invite") or any("#" in p for p in parts):
            return None
        return cls(kind, tenant_id, user_id, token_id, secret)
