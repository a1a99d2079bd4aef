"""Notifications: an inbox per user, and an e-mail for each notification.

``notify`` stores the notifications at once (the inbox is current when the
request ends) and queues one e-mail job; the job sends through the mailer and
marks each notification e-mailed, so a redelivered job sends nothing twice.
An ``email_note`` (e.g. an invitation token) travels only in the job message
and the e-mail, never into the stored notification.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import UserDirectory
    from chalicelib.domain.notifications.ports import Mailer, NotificationStore
    from chalicelib.domain.shared.ports import JobQueue


def _notification_id(once_key: str, user_id: str, moment: datetime) -> str:
    """A ULID whose time part is ``moment`` and whose random part is fixed by
    the key: the same key yields the same id (the notification exists once)."""
    import hashlib

    from ulid import ULID

    stamp = ULID.from_datetime(moment).bytes[:6]
    digest = hashlib.sha256(f"{once_key}\n{user_id}".encode()).digest()[:10]
    return str(ULID.from_bytes(stamp + digest))


class Notification(Record):
    tenant_id: str
    user_id: str
    kind: str
    subject: str
    link: str | None = None
    read_at: datetime | None = None
    emailed_at: datetime | None = None


class SendNotificationEmails(Model):
    """Job message: e-mail these notifications to their users."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["notifications.email"] = "notifications.email"
    tenant_id: str
    # (user id, notification id) pairs
    notifications: list[tuple[str, str]] = Field(max_length=100)
    email_note: str | None = None


class Notifier:
    def __init__(
        self,
        store: NotificationStore,
        users: UserDirectory,
        mailer: Mailer,
        queue: JobQueue,
        clock: Clock = utc_now,
        public_url: str = "",
    ):
        self._store = store
        self._users = users
        self._mailer = mailer
        self._queue = queue
        self._clock = clock
        self._public_url = public_url.rstrip("/")

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
    ) -> list[Notification]:
        """Store one notification per user and queue their e-mails.

        With ``once_key`` (and ``once_at``, the moment the notification is
        about) the notification ids derive from them, so notifying twice for
        the same key (a retried job, two overlapping runs) stores and e-mails
        nothing the second time; the answer is then empty."""
        now = self._clock()
        if once_key is not None and once_at is None:
            raise ValueError("once_key needs once_at")
        created = [
            Notification(
                id=_notification_id(once_key, user_id, once_at) if once_key and once_at else new_id(),
                tenant_id=tenant_id,
                user_id=user_id,
                kind=kind,
                subject=subject,
                link=link,
                created_at=now,
                updated_at=now,
            )
            for user_id in dict.fromkeys(user_ids)
        ]
        if not created:
            return []
        try:
            self._store.add_notifications(created)
        except Conflict:
            if once_key is None:
                raise
            return []
        for start in range(0, len(created), 100):
            batch = created[start : start + 100]
            self._queue.send(
                SendNotificationEmails(
                    tenant_id=tenant_id, notifications=[(n.user_id, n.id) for n in batch], email_note=email_note
                ).model_dump(mode="json")
            )
        return created

    def send_emails(self, job: SendNotificationEmails) -> int:
        sent = 0
        users = {u.id: u for u in self._users.get_users(job.tenant_id, {u for u, _ in job.notifications})}
        for user_id, notification_id in job.notifications:
            notification = self._store.get_notification(job.tenant_id, user_id, notification_id)
            user = users.get(user_id)
            if notification is None or notification.emailed_at is not None or user is None:
                continue
            if user.status == UserStatus.DEACTIVATED:
                continue
            self._mailer.send(
                to=user.email, subject=notification.subject, text=self._email_text(notification, job.email_note)
            )
            self._store.mark_emailed(job.tenant_id, user_id, notification_id, self._clock())
            sent += 1
        return sent

    def _email_text(self, notification: Notification, note: str | None) -> str:
        lines = [notification.subject, ""]
        if notification.link:
            lines.append(f"Open: {self._public_url}{notification.link}")
        if note:
            lines += ["", note]
        return "\n".join(lines) + "\n"

    def inbox(self, principal: Principal, page: PageRequest, *, unread_only: bool = False) -> Slice[Notification]:
        return self._store.list_notifications(principal.tenant_id, principal.user_id, page, unread_only=unread_only)

    def mark_read(self, principal: Principal, notification_id: str) -> Notification:
        notification = self._store.get_notification(principal.tenant_id, principal.user_id, notification_id)
        if notification is None:
            raise NotFound("No such notification.")
        if notification.read_at is not None:
            return notification
        return self._store.mark_read(principal.tenant_id, principal.user_id, notification_id, self._clock())
