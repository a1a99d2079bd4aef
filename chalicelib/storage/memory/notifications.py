"""Twins of the notification store (storage/notifications.py) and the mailer
(storage/mail.py): an inbox per user, and the e-mails that were sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.invoices.ports import Attachment
from chalicelib.domain.notifications.service import Notification
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.memory.db import MemoryDb, frozen, paged, stored_moment, thawed

NOTIFICATIONS = "notifications"  # (user id, notification id) -> Notification
BATCH = 100  # notifications written at once (one DynamoDB transaction)


class MemoryNotificationStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def add_notifications(self, notifications: list[Notification]) -> None:
        for start in range(0, len(notifications), BATCH):
            batch = notifications[start : start + BATCH]
            with self._db.transaction():
                for notification in batch:
                    rows = self._db.table(notification.tenant_id, NOTIFICATIONS)
                    key = (notification.user_id, notification.id)
                    if key in rows:
                        raise Conflict("The record already exists.")
                    rows[key] = frozen(notification)

    def get_notification(self, tenant_id: str, user_id: str, notification_id: str) -> Notification | None:
        text = self._db.table(tenant_id, NOTIFICATIONS).get((user_id, notification_id))
        return thawed(Notification, text) if text else None

    def list_notifications(
        self, tenant_id: str, user_id: str, page: PageRequest, *, unread_only: bool = False
    ) -> Slice[Notification]:
        rows = [
            (notification_id, thawed(Notification, text))
            for (owner, notification_id), text in self._db.table(tenant_id, NOTIFICATIONS).items()
            if owner == user_id
        ]
        return paged(
            rows,
            page,
            partition=f"notifications#{user_id}",
            newest_first=True,
            visible=(lambda n: n.read_at is None) if unread_only else None,
        )

    def _change(self, tenant_id: str, user_id: str, notification_id: str, **changes: object) -> Notification:
        found = self.get_notification(tenant_id, user_id, notification_id)
        if found is None:
            raise NotFound("The record does not exist.")
        saved = found.model_copy(update=changes)
        self._db.table(tenant_id, NOTIFICATIONS)[(user_id, notification_id)] = frozen(saved)
        return saved

    def mark_read(self, tenant_id: str, user_id: str, notification_id: str, at: datetime) -> Notification:
        found = self.get_notification(tenant_id, user_id, notification_id)
        version = found.version + 1 if found else 1
        moment = stored_moment(at)
        return self._change(tenant_id, user_id, notification_id, read_at=moment, updated_at=moment, version=version)

    def mark_emailed(self, tenant_id: str, user_id: str, notification_id: str, at: datetime) -> None:
        self._change(tenant_id, user_id, notification_id, emailed_at=stored_moment(at))


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = ()


class MemoryMailer:
    """Keeps what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[SentMail] = []

    def send(self, *, to: str, subject: str, text: str, attachments: tuple[Attachment, ...] = ()) -> None:
        self.sent.append(SentMail(to, subject, text, attachments))
