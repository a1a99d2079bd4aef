"""Telephony API (VOIP-1..4, 8): the account, numbers, operators' presence and
access tokens, the call log. Twilio's own webhooks are in webhooks.py."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call as HttpCall
from chalicelib.handlers.http.routing import route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.voip.models import (
        AccountIn,
        AccountTest,
        AvailableNumber,
        AvailableQuery,
        CallQuery,
        NewNumber,
        NumberChanges,
        Presence,
        PresenceIn,
        VoiceToken,
    )
    from chalicelib.handlers.voip.views import AccountView, CallView, NumberView, RemoveQuery


bp = Blueprint(__name__)
TAG = "Telephony"


# ---- the account (admins) ----


@route(bp, "/v1/voip/account", "GET", summary="The Twilio account", tag=TAG, response=AccountView, errors=(403, 404))
def get_account(call: HttpCall) -> AccountView:
    return AccountView.of(container().voip.account(call.caller))


@route(
    bp,
    "/v1/voip/account",
    "PUT",
    summary="Connect the Twilio account (the token is kept in Secrets Manager, never answered)",
    tag=TAG,
    body=AccountIn,
    response=AccountView,
    errors=(403, 412, 422),
)
def put_account(call: HttpCall) -> AccountView:
    saved = container().voip.save_account(call.caller, call.body, expected_version=call.optional_version())
    return AccountView.of(saved)


@route(
    bp,
    "/v1/voip/account/test",
    "POST",
    summary="Check the credentials against Twilio; set up browser calls",
    tag=TAG,
    response=AccountTest,
    errors=(403, 404, 503),
)
def test_account(call: HttpCall) -> AccountTest:
    return container().voip.test_account(call.caller)


# ---- numbers ----


@route(
    bp,
    "/v1/voip/available-numbers",
    "GET",
    summary="Numbers Twilio offers",
    tag=TAG,
    query=AvailableQuery,
    response=AvailableNumber,
    errors=(403, 404, 503),
)
def available_numbers(call: HttpCall) -> Page[AvailableNumber]:
    return Page(container().voip.available(call.caller, call.query))


@route(
    bp,
    "/v1/voip/numbers",
    "GET",
    summary="The tenant's numbers (users: those they operate)",
    tag=TAG,
    response=NumberView,
)
def list_numbers(call: HttpCall) -> Page[NumberView]:
    return Page([NumberView.of(n) for n in container().voip.numbers(call.caller)])


@route(
    bp,
    "/v1/voip/numbers",
    "POST",
    summary="Buy a number or link one the Twilio account has; its calls come to the CRM",
    tag=TAG,
    body=NewNumber,
    response=NumberView,
    status=201,
    errors=(403, 404, 409, 422, 503),
)
def add_number(call: HttpCall) -> NumberView:
    return NumberView.of(container().voip.add_number(call.caller, call.body))


@route(bp, "/v1/voip/numbers/{number_id}", "GET", summary="One number", tag=TAG, response=NumberView, errors=(404,))
def get_number(number_id: str, call: HttpCall) -> NumberView:
    return NumberView.of(container().voip.number(call.caller, number_id))


@route(
    bp,
    "/v1/voip/numbers/{number_id}",
    "PATCH",
    summary="Change a number's settings and operators",
    tag=TAG,
    body=NumberChanges,
    response=NumberView,
    if_match=True,
    errors=(403, 404, 412, 422),
)
def update_number(number_id: str, call: HttpCall) -> NumberView:
    changed = container().voip.update_number(
        call.caller, number_id, call.body, expected_version=call.expected_version()
    )
    return NumberView.of(changed)


@route(
    bp,
    "/v1/voip/numbers/{number_id}",
    "DELETE",
    summary="Release a number to Twilio (default for bought ones) or unlink it (?release=false)",
    tag=TAG,
    query=RemoveQuery,
    status=204,
    errors=(403, 404, 412),
)
def remove_number(number_id: str, call: HttpCall) -> None:
    container().voip.remove_number(
        call.caller, number_id, release=call.query.release, expected_version=call.optional_version()
    )


# ---- operators ----


@route(bp, "/v1/voip/presence", "GET", summary="The caller's presence", tag=TAG, response=Presence)
def get_presence(call: HttpCall) -> Presence:
    return container().voip.presence(call.caller)


@route(
    bp,
    "/v1/voip/presence",
    "PUT",
    summary="Go online, pause or go offline",
    tag=TAG,
    body=PresenceIn,
    response=Presence,
)
def put_presence(call: HttpCall) -> Presence:
    return container().voip.set_presence(call.caller, call.body.status)


@route(
    bp,
    "/v1/voip/token",
    "GET",
    summary="A Twilio Voice access token for the caller (browser calls)",
    tag=TAG,
    response=VoiceToken,
    errors=(403, 404, 409),
)
def voice_token(call: HttpCall) -> Response:
    token = container().voip.voice_token(call.caller)
    # A credential: no cache may keep it.
    return Response(
        body=token.model_dump_json(),
        status_code=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


# ---- the call log ----


@route(
    bp,
    "/v1/voip/calls",
    "GET",
    summary="The call log (operators: their own calls)",
    tag=TAG,
    query=CallQuery,
    response=CallView,
    paged=True,
)
def list_calls(call: HttpCall) -> Page[CallView]:
    page = call.page_request("voip.calls", **call.query.filters())
    return call.page(container().call_log.list(call.caller, call.query, page), CallView.of)


@route(bp, "/v1/voip/calls/{call_id}", "GET", summary="One call", tag=TAG, response=CallView, errors=(404,))
def get_call(call_id: str, call: HttpCall) -> CallView:
    return CallView.of(container().call_log.get(call.caller, call_id))


@route(
    bp,
    "/v1/voip/calls/{call_id}/recording",
    "GET",
    summary="Play a call's recording (302 to a presigned URL)",
    tag=TAG,
    status=302,
    produces="audio/mpeg",
    description="Answers 302 with Location: a presigned GET valid 5 minutes.",
    errors=(404,),
)
def call_recording(call_id: str, call: HttpCall) -> Response:
    url = container().call_log.recording_url(call.caller, call_id)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
