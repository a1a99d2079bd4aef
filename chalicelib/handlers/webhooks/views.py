"""The pydantic models of the webhooks API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.shared.model import Model
from chalicelib.domain.webhooks.models import (
    Delivery,
    ReplayWebhooks,
    Subscription,
)
from chalicelib.handlers.identity.views import RecordView


class WebhookView(RecordView):
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    secret_created_at: datetime
    previous_secret_until: datetime | None

    @classmethod
    def of(cls, subscription: Subscription) -> "WebhookView":
        return cls(**subscription.model_dump(include=set(cls.model_fields)))


class WebhookWithSecret(WebhookView):
    secret: str  # shown once: on create and on rotation


class DeliveryView(Model):
    id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    status: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    replays: int

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryView":
        return cls(**delivery.model_dump(include=set(cls.model_fields)))


class DeliveryDetail(DeliveryView):
    payload: dict[str, Any]

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryDetail":
        import json

        return cls(
            **delivery.model_dump(include=set(cls.model_fields) - {"payload"}), payload=json.loads(delivery.payload)
        )


class ReplayQueued(Model):
    status: str = "queued"
    since: datetime
    until: datetime
    only_undelivered: bool

    @classmethod
    def of(cls, job: ReplayWebhooks) -> "ReplayQueued":
        return cls(since=job.since, until=job.until, only_undelivered=job.only_undelivered)
