"""What the notifier needs (its store, a mailer), and ``Notify``: the one
method other features call to tell users about something."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.notifications.service import Notification
    from chalicelib.domain.shared.pagination import PageRequest, Slice


class Notify(Protocol):
    """Notifier.notify, as users, contacts, deals, cases and tasks call it."""

    def notify(
        self,
        tenant_id: str,
        user_ids: list[str],
        kind: str,
        subject: str,
        link: str | None = None,
        *,
        email_note: str | None = None,
        once_key: str | None = None,
        once_at: datetime | None = None,
    ) -> list[Notification]: ...


class NotificationStore(Protocol):
    def add_notifications(self, notifications: list[Notification]) -> None:
        """All or nothing per 100; Conflict when one of the ids exists already
        (the notifier's once-only key)."""
        ...

    def get_notification(self, tenant_id: str, user_id: str, notification_id: str) -> Notification | None: ...

    def list_notifications(
        self, tenant_id: str, user_id: str, page: PageRequest, *, unread_only: bool = False
    ) -> Slice[Notification]:
        """Newest first."""
        ...

    def mark_read(self, tenant_id: str, user_id: str, notification_id: str, at: datetime) -> Notification:
        """NotFound when there is no such notification."""
        ...

    def mark_emailed(self, tenant_id: str, user_id: str, notification_id: str, at: datetime) -> None: ...


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, text: str) -> None: ...
