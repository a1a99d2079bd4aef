"""Mass mailing (ADM-2): preview, send, progress, cancel, per-recipient results,
the sending rate, the public one-click unsubscribe and the local bounce hook."""

from __future__ import annotations

import html

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.config import BUILT_IN_SECRET_STAGES, get_settings
from chalicelib.domain.shared.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports
from chalicelib.observability import identify, logger

with lazy_imports():
    from chalicelib.domain.mailing import bounces
    from chalicelib.domain.mailing.models import MailingSettings, NewMailing, Preview, PreviewRequest, RecipientQuery
    from chalicelib.handlers.mailing.views import BounceHook, MailingStarted, MailingView, RecipientView


bp = Blueprint(__name__)
TAG = "Mailings"


@route(
    bp,
    "/v1/mailings/preview",
    "POST",
    summary="Render a mailing for one recipient",
    tag=TAG,
    body=PreviewRequest,
    response=Preview,
    errors=(404, 422),
    not_idempotent="Renders only; stores nothing.",
)
def preview_mailing(call: Call) -> Preview:
    return container().mailings.preview(call.caller, call.body)


@route(
    bp,
    "/v1/mailings",
    "POST",
    summary="Send a mailing to contacts (by ids or by the contacts list filter)",
    tag=TAG,
    body=NewMailing,
    response=MailingStarted,
    status=202,
    errors=(404, 422),
    description="Subject and body are sandboxed jinja2 templates: {{ first_name }}, {{ last_name }}, "
    "{{ display_name }}, {{ company_name }}, {{ job_title }}, {{ email }}, {{ phone }}, {{ custom.<field name> }}, "
    "{{ unsubscribe_url }}. Sent in the background at the tenant's rate (GET/PUT /v1/settings/mailing).",
)
def start_mailing(call: Call) -> MailingStarted:
    mailing = container().mailings.start(call.caller, call.body)
    return MailingStarted(id=mailing.id, job_id=mailing.id, status_url=f"/v1/mailings/{mailing.id}")


@route(bp, "/v1/mailings/{mailing_id}", "GET", summary="A mailing's progress", tag=TAG, response=MailingView)
def get_mailing(mailing_id: str, call: Call) -> MailingView:
    return MailingView.of(container().mailings.get(call.caller, mailing_id))


@route(
    bp,
    "/v1/mailings/{mailing_id}/cancel",
    "POST",
    summary="Stop a mailing (what went out stays counted)",
    tag=TAG,
    response=MailingView,
    errors=(404, 409),
    not_idempotent="Naturally idempotent: cancelling a cancelled mailing answers it unchanged.",
)
def cancel_mailing(mailing_id: str, call: Call) -> MailingView:
    return MailingView.of(container().mailings.cancel(call.caller, mailing_id))


@route(
    bp,
    "/v1/mailings/{mailing_id}/recipients",
    "GET",
    summary="Per-recipient results of a mailing",
    tag=TAG,
    query=RecipientQuery,
    response=RecipientView,
    paged=True,
)
def mailing_recipients(mailing_id: str, call: Call) -> Page[RecipientView]:
    status = call.query.status
    page = call.page_request("mailings.recipients", mailing_id=mailing_id, status=status)
    return call.page(container().mailings.recipients(call.caller, mailing_id, page, status), RecipientView.of)


@route(bp, "/v1/settings/mailing", "GET", summary="The sending rate", tag=TAG, response=MailingSettings)
def get_mailing_settings(call: Call) -> MailingSettings:
    return container().mailings.settings(call.caller)


@route(
    bp,
    "/v1/settings/mailing",
    "PUT",
    summary="Set the sending rate (admins)",
    tag=TAG,
    body=MailingSettings,
    response=MailingSettings,
    errors=(403,),
)
def put_mailing_settings(call: Call) -> MailingSettings:
    return container().mailings.save_settings(call.caller, call.body)


# ---- public: one-click unsubscribe (RFC 8058) ----

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<main style="font-family:sans-serif;max-width:32rem;margin:3rem auto">{content}</main></body></html>"""


def _page(content: str, status: int = 200) -> Response:
    return Response(
        body=_PAGE.format(content=content),
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@route(
    bp,
    "/v1/unsubscribe/{token}",
    "GET",
    summary="The unsubscribe page (public)",
    tag=TAG,
    public=True,
    produces="text/html",
    errors=(404,),
    answers=((404, "text/html", None),),
    description="Shows a button that POSTs to the same URL; a GET never unsubscribes (mail scanners follow links).",
)
def unsubscribe_page(token: str) -> Response:
    try:
        container().mailings.check_token(token)
    except NotFound:
        return _page("<h1>This link is not valid</h1>", 404)
    return _page(
        '<h1>Unsubscribe</h1><p>You will get no more mailings from us at this address.</p><form method="post" '
        f'action="{html.escape(token)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )


@route(
    bp,
    "/v1/unsubscribe/{token}",
    "POST",
    summary="One-click unsubscribe (public, RFC 8058)",
    tag=TAG,
    public=True,
    produces="text/html",
    content_types=("application/x-www-form-urlencoded", "multipart/form-data", "application/json", "text/plain"),
    errors=(404,),
    answers=((404, "text/html", None),),
    not_idempotent="Public and naturally idempotent: the address stays suppressed however often it is posted.",
)
def unsubscribe(token: str) -> Response:
    try:
        tenant_id = container().mailings.unsubscribe(token)
    except NotFound:
        return _page("<h1>This link is not valid</h1>", 404)
    identify(tenant_id=tenant_id)
    logger.info("unsubscribed")
    return _page("<h1>You are unsubscribed</h1><p>You will get no more mailings from us at this address.</p>")


# ---- the local stack's bounce hook ----


@route(
    bp,
    "/v1/mailings/bounces",
    "POST",
    summary="Test hook: feed an SES bounce/complaint notification (local and test stages only)",
    tag=TAG,
    body=BounceHook,
    status=202,
    errors=(403, 404, 422),
    not_idempotent="A test hook; suppressing an address twice changes nothing.",
    description="The body is SES's event (`notificationType`, `bounce.bounceType`, `bounce.bouncedRecipients`); "
    "it goes to the same parser as the bounces queue on AWS, for the caller's tenant. 404 on deployed stages.",
)
def bounce_hook(call: Call) -> dict[str, int]:
    if get_settings().stage not in BUILT_IN_SECRET_STAGES:
        raise NotFound("No such endpoint.")
    if not call.caller.is_admin:
        raise Forbidden("Only administrators may feed bounces.")
    found = bounces.parse(call.body.model_dump(), tenant_id=call.caller.tenant_id)
    if found is None:
        raise ValidationFailed("Not an SES bounce or complaint with recipients.")
    return {"suppressed": container().mailings.bounced(found)}
