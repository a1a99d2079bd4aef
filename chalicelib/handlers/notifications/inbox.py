"""The caller's notifications, and the owner's module access setting."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.identity.models import CrmAccess
    from chalicelib.handlers.identity.views import CrmAccessView
    from chalicelib.handlers.notifications.views import InboxQuery, NotificationView


bp = Blueprint(__name__)


@route(
    bp,
    "/v1/notifications",
    "GET",
    summary="Your notifications, newest first",
    tag="Notifications",
    module="portal",
    query=InboxQuery,
    response=NotificationView,
    paged=True,
)
def inbox(call: Call) -> Page[NotificationView]:
    page = call.page_request("notifications.list", unread=call.query.unread)
    return call.page(container().notifier.inbox(call.caller, page, unread_only=call.query.unread), NotificationView.of)


@route(
    bp,
    "/v1/notifications/{notification_id}/read",
    "POST",
    summary="Mark a notification read",
    tag="Notifications",
    module="portal",
    response=NotificationView,
    errors=(404,),
    not_idempotent="marking a notification read twice changes nothing",
)
def mark_read(notification_id: str, call: Call) -> NotificationView:
    return NotificationView.of(container().notifier.mark_read(call.caller, notification_id))


@route(
    bp,
    "/v1/settings/crm-access",
    "GET",
    summary="Who may use the CRM module (TEN-3)",
    tag="Settings",
    module="portal",
    response=CrmAccessView,
)
def get_crm_access(call: Call) -> CrmAccessView:
    return CrmAccessView.of(container().crm_access.get(call.caller))


@route(
    bp,
    "/v1/settings/crm-access",
    "PUT",
    summary="Switch the CRM module on/off or limit it (owner only)",
    tag="Settings",
    module="portal",
    body=CrmAccess,
    response=CrmAccessView,
    errors=(412,),
    description="If-Match is optional here: without it the setting is replaced unconditionally.",
)
def put_crm_access(call: Call) -> CrmAccessView:
    return CrmAccessView.of(
        container().crm_access.put(call.caller, call.body, expected_version=call.optional_version())
    )
