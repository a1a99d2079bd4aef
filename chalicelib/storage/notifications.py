"""Notifications live in their user's item collection, newest first."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.notifications.service import Notification
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Put, SortKey, Table


class NotificationStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def add_notifications(self, notifications: list[Notification]) -> None:
        for start in range(0, len(notifications), 100):
            self._table.transact(
                [
                    Put({**n.model_dump(mode="json"), **keys.notification(n.tenant_id, n.user_id, n.id)})
                    for n in notifications[start : start + 100]
                ]
            )

    def get_notification(self, tenant_id: str, user_id: str, notification_id: str) -> Notification | None:
        item = self._table.get(keys.notification(tenant_id, user_id, notification_id))
        return Notification.model_validate(item) if item else None

    def list_notifications(
        self, tenant_id: str, user_id: str, page: PageRequest, *, unread_only: bool = False
    ) -> Slice[Notification]:
        found = self._table.query(
            keys.user(tenant_id, user_id)["pk"],
            sort=SortKey.begins_with(keys.NOTIFICATION_PREFIX),
            page=page,
            newest_first=True,
            visible=(lambda item: not item.get("read_at")) if unread_only else None,
        )
        return Slice([Notification.model_validate(i) for i in found.items], found.after)

    def mark_read(self, tenant_id: str, user_id: str, notification_id: str, at: datetime) -> Notification:
        item = self._table.update(
            keys.notification(tenant_id, user_id, notification_id), set={"read_at": iso(at), "updated_at": iso(at)}
        )
        return Notification.model_validate(item)

    def mark_emailed(self, tenant_id: str, user_id: str, notification_id: str, at: datetime) -> None:
        self._table.update(
            keys.notification(tenant_id, user_id, notification_id), set={"emailed_at": iso(at)}, bump_version=False
        )
