"""Outgoing webhooks API (issue 18, points 5 and 6; admins only).

API.md's paths: ``GET/POST /v1/webhooks``, ``GET/PATCH/DELETE /v1/webhooks/{id}``,
``GET /v1/webhooks/{id}/deliveries``, ``POST /v1/webhooks/{id}/deliveries/{delivery_id}/replay``.
Added in the same style (README, "Webhooks"): ``POST /v1/webhooks/{id}/rotate-secret``,
``GET /v1/webhooks/{id}/deliveries/{delivery_id}`` and ``POST /v1/webhooks/{id}/deliveries/replay``
(a time range). The signing secret is answered by create and rotate only, with
``Cache-Control: no-store``.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call as HttpCall
from chalicelib.handlers.http.routing import route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.webhooks.models import NewSubscription, ReplayRange, Subscription, SubscriptionChanges
    from chalicelib.handlers.webhooks.views import (
        DeliveryDetail,
        DeliveryView,
        ReplayQueued,
        WebhookView,
        WebhookWithSecret,
    )


bp = Blueprint(__name__)
TAG = "Webhooks"


def _with_secret(subscription: Subscription, secret: str, status: int) -> Response:
    view = WebhookWithSecret(**WebhookView.of(subscription).model_dump(), secret=secret)
    # A credential: no cache may keep the answer.
    return Response(
        body=view.model_dump_json(),
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store", "ETag": f'"{subscription.version}"'},
    )


@route(bp, "/v1/webhooks", "GET", summary="The tenant's webhooks", tag=TAG, response=WebhookView, errors=(403,))
def list_webhooks(call: HttpCall) -> Page[WebhookView]:
    return Page([WebhookView.of(s) for s in container().webhooks.list(call.caller)])


@route(
    bp,
    "/v1/webhooks",
    "POST",
    summary="Subscribe an https URL to events; the answer carries the signing secret, this once",
    tag=TAG,
    body=NewSubscription,
    response=WebhookWithSecret,
    status=201,
    errors=(403, 422),
)
def create_webhook(call: HttpCall) -> Response:
    subscription, secret = container().webhooks.create(call.caller, call.body)
    return _with_secret(subscription, secret, 201)


@route(bp, "/v1/webhooks/{webhook_id}", "GET", summary="One webhook", tag=TAG, response=WebhookView, errors=(403, 404))
def get_webhook(webhook_id: str, call: HttpCall) -> WebhookView:
    return WebhookView.of(container().webhooks.get(call.caller, webhook_id))


@route(
    bp,
    "/v1/webhooks/{webhook_id}",
    "PATCH",
    summary="Change a webhook's URL, events, description or enabled",
    tag=TAG,
    body=SubscriptionChanges,
    response=WebhookView,
    if_match=True,
    errors=(403, 404, 412, 422),
)
def update_webhook(webhook_id: str, call: HttpCall) -> WebhookView:
    changed = container().webhooks.update(call.caller, webhook_id, call.body, expected_version=call.expected_version())
    return WebhookView.of(changed)


@route(
    bp, "/v1/webhooks/{webhook_id}", "DELETE", summary="Delete a webhook", tag=TAG, status=204, errors=(403, 404, 412)
)
def delete_webhook(webhook_id: str, call: HttpCall) -> None:
    container().webhooks.delete(call.caller, webhook_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/webhooks/{webhook_id}/rotate-secret",
    "POST",
    summary="A new signing secret, answered this once; the old one also signs for 24 hours",
    tag=TAG,
    response=WebhookWithSecret,
    errors=(403, 404, 412),
)
def rotate_secret(webhook_id: str, call: HttpCall) -> Response:
    subscription, secret = container().webhooks.rotate_secret(
        call.caller, webhook_id, expected_version=call.optional_version()
    )
    return _with_secret(subscription, secret, 200)


@route(
    bp,
    "/v1/webhooks/{webhook_id}/deliveries",
    "GET",
    summary="The webhook's delivery log, newest first",
    tag=TAG,
    response=DeliveryView,
    paged=True,
    errors=(403, 404),
)
def list_deliveries(webhook_id: str, call: HttpCall) -> Page[DeliveryView]:
    page = call.page_request("webhooks.deliveries", webhook_id=webhook_id)
    return call.page(container().webhooks.deliveries(call.caller, webhook_id, page), DeliveryView.of)


@route(
    bp,
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    "GET",
    summary="One delivery, with the body it sends",
    tag=TAG,
    response=DeliveryDetail,
    errors=(403, 404),
)
def get_delivery(webhook_id: str, delivery_id: str, call: HttpCall) -> DeliveryDetail:
    return DeliveryDetail.of(container().webhooks.delivery(call.caller, webhook_id, delivery_id))


@route(
    bp,
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    "POST",
    summary="Send one delivery again (same webhook-id), from its first attempt",
    tag=TAG,
    response=DeliveryView,
    status=202,
    errors=(403, 404, 412),
)
def replay_delivery(webhook_id: str, delivery_id: str, call: HttpCall) -> DeliveryView:
    return DeliveryView.of(container().webhooks.replay(call.caller, webhook_id, delivery_id))


@route(
    bp,
    "/v1/webhooks/{webhook_id}/deliveries/replay",
    "POST",
    summary="Send again the deliveries of the events in a time range (in the background)",
    tag=TAG,
    body=ReplayRange,
    response=ReplayQueued,
    status=202,
    errors=(403, 404, 422),
)
def replay_range(webhook_id: str, call: HttpCall) -> ReplayQueued:
    return ReplayQueued.of(container().webhooks.replay_range(call.caller, webhook_id, call.body))
