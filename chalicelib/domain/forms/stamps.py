"""Signed fill-time stamps and client digests for the public form endpoint (WEB-3).

A stamp is ``<unix seconds>.<signature>``: the moment a form was put in
front of a visitor, signed (HMAC-SHA256) together with the form's id, so it
cannot be forged or moved to another form. A submission less than
``MIN_FILL_SECONDS`` after its stamp was not typed by a person.

Client addresses are never stored: rate-limit counters are keyed by an HMAC
of the address (domain/shared/limits.py: ``client_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# The digest lives with the limits it keys (domain/shared/limits.py); re-exported for the forms.
from chalicelib.domain.shared.limits import client_digest as client_digest

# A person reads the form and types at least a name and an address: more
# than three seconds even with the browser's autofill; scripts post in well
# under one. Higher catches slower bots and starts to drop hurried people.
MIN_FILL_SECONDS = 3
# A stamp from the future beyond clock skew between our own functions is forged.
MAX_SKEW_SECONDS = 60


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose from the deployment's secret (the cursor key), so
    a stamp signature is never also a valid cursor signature and vice versa."""
    return hmac.new(secret, f"crm/web-forms/{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class StampCheck(StrEnum):
    OK = "ok"
    MISSING = "missing"
    FORGED = "forged"
    TOO_FAST = "too_fast"


@dataclass(frozen=True)
class Stamps:
    key: bytes

    def _signature(self, form_id: str, seconds: int) -> str:
        return _b64(hmac.new(self.key, f"{form_id}\n{seconds}".encode(), hashlib.sha256).digest()[:18])

    def issue(self, form_id: str, at: datetime) -> str:
        seconds = int(at.timestamp())
        return f"{seconds}.{self._signature(form_id, seconds)}"

    def check(self, form_id: str, stamp: str | None, now: datetime) -> StampCheck:
        if not stamp:
            return StampCheck.MISSING
        seconds_text, _, signature = stamp.strip().partition(".")
        if not seconds_text.isdigit() or len(seconds_text) > 12:
            return StampCheck.FORGED
        seconds = int(seconds_text)
        if not hmac.compare_digest(signature.encode(), self._signature(form_id, seconds).encode()):
            return StampCheck.FORGED
        age = now.timestamp() - seconds
        if age < -MAX_SKEW_SECONDS:
            return StampCheck.FORGED
        if age < MIN_FILL_SECONDS:
            return StampCheck.TOO_FAST
        return StampCheck.OK
