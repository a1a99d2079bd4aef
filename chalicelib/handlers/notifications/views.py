"""The pydantic models of the notifications API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict

from chalicelib.domain.shared.model import Model


class NotificationView(Model):
    id: str
    kind: str
    subject: str
    link: str | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notification: Any) -> "NotificationView":
        return cls.model_validate(notification.model_dump())


class InboxQuery(Model):
    model_config = ConfigDict(extra="forbid")
    unread: bool = False
