"""Sealing (AES-GCM) of what the table must never hold in clear: stored
answers that carry a secret shown once (storage/idempotency.py) and webhook
signing secrets (storage/webhooks.py). The key is derived from a server
secret per purpose and item; the item's key is the associated data, so a
sealed value copied to another item does not open."""

from __future__ import annotations


def derive_key(secret: bytes, purpose: str, context: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(secret, f"{purpose}\n{context}".encode(), hashlib.sha256).digest()


def seal(key: bytes, associated: str, text: str) -> str:
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, text.encode(), associated.encode())).decode()


def unseal(key: bytes, associated: str, sealed: str) -> str | None:
    """The text, or None when it cannot be opened (another key, another item, altered)."""
    import base64
    import binascii

    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(sealed, validate=True)
        return AESGCM(key).decrypt(raw[:12], raw[12:], associated.encode()).decode()
    except (InvalidTag, ValueError, binascii.Error):
        return None
