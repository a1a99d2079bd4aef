"""Twilio's webhooks (VOIP-5..7, 9): public, form-encoded, signed by Twilio.

Each parses the form and hands it, with the path and query Twilio signed, to
the webhooks service, which checks ``X-Twilio-Signature`` before anything
else (403 otherwise). Voice webhooks answer TwiML; status and recording
callbacks are queued and acknowledged with an empty TwiML document.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.voip.webhooks import WebhookRequest


bp = Blueprint(__name__)
TAG = "Telephony webhooks"
FORM = "application/x-www-form-urlencoded"
XML = "text/xml"
MAX_PARAMS = 100
_WEBHOOK: dict[str, Any] = {
    "public": True,
    "tag": TAG,
    "content_types": (FORM,),
    "produces": XML,
    "errors": (403, 413, 415),
    # Twilio retries a webhook that did not answer: the voice ones write
    # nothing, and a callback queued twice is merged once (domain/voip/calls.py).
    "not_idempotent": "Twilio's retries are deduplicated per call event",
    # Issue 19: Twilio calls every tenant's webhooks from its own shared addresses, so a
    # per-address budget would throttle busy tenants' calls; each request is refused
    # before any work unless its X-Twilio-Signature verifies.
    "not_rate_limited": "Twilio's shared addresses; every request is signature-checked first",
    "description": "Called by Twilio only: signed with X-Twilio-Signature over CRM_PUBLIC_URL + path.",
}
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _request(hook: str, call: Call) -> WebhookRequest:
    form = parse_qsl(call.raw_body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_PARAMS)
    return WebhookRequest(
        hook=hook,
        path=call.request_path,
        query=dict(call.request.query_params or {}),
        params=dict(form),
        signature=call.header("X-Twilio-Signature"),
    )


def _xml(twiml: str) -> Response:
    return Response(body=twiml, status_code=200, headers={"Content-Type": XML, "Cache-Control": "no-store"})


@route(bp, "/twilio/{hook}/voice", "POST", summary="A call to one of the tenant's numbers (TwiML)", **_WEBHOOK)
def voice(hook: str, call: Call) -> Response:
    return _xml(container().voip_webhooks.voice(_request(hook, call)))


@route(bp, "/twilio/{hook}/outgoing", "POST", summary="An operator calls out from the browser (TwiML)", **_WEBHOOK)
def outgoing(hook: str, call: Call) -> Response:
    return _xml(container().voip_webhooks.outgoing(_request(hook, call)))


@route(bp, "/twilio/{hook}/status", "POST", summary="A call's status changed (queued)", **_WEBHOOK)
def status(hook: str, call: Call) -> Response:
    container().voip_webhooks.callback(_request(hook, call), "status")
    return _xml(EMPTY)


@route(bp, "/twilio/{hook}/recording", "POST", summary="A recording is ready (queued)", **_WEBHOOK)
def recording(hook: str, call: Call) -> Response:
    container().voip_webhooks.callback(_request(hook, call), "recording")
    return _xml(EMPTY)
