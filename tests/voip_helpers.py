"""Shared by the telephony tests: the fake Twilio in the container, signed webhooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

PUBLIC_URL = "https://crm.example.com/api"
# The fake's accounts (storage/memory/twilio_api.py): a SID beginning AC + twenty zeros.
ACCOUNT_SID = "AC" + "0" * 20 + "00000000a1b2"
AUTH_TOKEN = "f" * 32
OTHER_SID = "AC" + "0" * 20 + "00000000c3d4"
OTHER_TOKEN = "e" * 32


def sign(url: str, params: dict[str, str], token: str) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(url, params)


def call_sid(n: int) -> str:
    return "CA" + f"{n:032x}"


def recording_sid(n: int) -> str:
    return "RE" + f"{n:032x}"


def post_form(
    api: Any,
    path: str,
    params: dict[str, str],
    *,
    token: str | None = AUTH_TOKEN,
    signature: str | None = None,
    url: str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """POST a form as Twilio would, signed with ``token`` over PUBLIC_URL + path."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is None and token is not None:
        signature = sign(url or PUBLIC_URL + path, params, token)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return api.call("POST", path, headers=headers, raw=urlencode(params))
