"""Outgoing webhooks (issue 18, point 5): subscriptions, events, deliveries.

A subscription is an admin's HTTPS URL and the event types it wants. Each
event that matches becomes one delivery of that subscription: the body
signed per the Standard Webhooks specification (``webhook-id`` is the event
id, the same for every retry and replay of it, so receivers deduplicate).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.records import NotNull, Record, omittable

# The event types a subscription may name; what produces each is in events.py.
EVENT_TYPES: tuple[str, ...] = (
    *(
        f"{kind}.{what}"
        for kind in ("contact", "deal", "task", "case", "invoice")
        for what in ("created", "updated", "deleted")
    ),
    "deal.stage_changed",
    "invoice.status_changed",
    "call.ended",
    "import.finished",
)
EventType = Literal[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "deal.created",
    "deal.updated",
    "deal.deleted",
    "task.created",
    "task.updated",
    "task.deleted",
    "case.created",
    "case.updated",
    "case.deleted",
    "invoice.created",
    "invoice.updated",
    "invoice.deleted",
    "deal.stage_changed",
    "invoice.status_changed",
    "call.ended",
    "import.finished",
]

# A tenant's subscriptions are read whole for every change (one small Query).
MAX_SUBSCRIPTIONS = 20
MAX_URL_LENGTH = 2000


class Subscription(Record):
    tenant_id: str
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool = True
    # When the current secret was made; the one before it still signs until
    # ``previous_secret_until`` (rotation without a gap at the receiver).
    secret_created_at: datetime
    previous_secret_until: datetime | None = None


class NewSubscription(Model):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="https:// URL that receives the events")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True


class SubscriptionChanges(Model):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, NotNull] = omittable(min_length=1, max_length=MAX_URL_LENGTH)
    events: Annotated[list[EventType], NotNull] = omittable(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)
    enabled: Annotated[bool, NotNull] = omittable()


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # a 2xx answer
    PARKED = "parked"  # every attempt of a day failed; replay sends it again


class WebhookEvent(Model):
    """One event, as the body of every delivery of it says."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    tenant_id: str
    occurred_at: datetime
    kind: str
    record_id: str
    new: dict[str, Any] | None
    old: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body (Standard Webhooks' recommended ``type``/``timestamp``/``data``)."""
        from chalicelib.domain.shared.clock import iso

        data: dict[str, Any] = {"object": self.kind, "id": self.record_id, "new": self.new}
        if self.old is not None:
            data["old"] = self.old
        return {"id": self.id, "type": self.type, "timestamp": iso(self.occurred_at), "data": data}


class Delivery(Model):
    """One event for one subscription, and how its attempts went."""

    id: str
    tenant_id: str
    subscription_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    # The exact body signed and sent (kept for retries and replays).
    payload: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    created_at: datetime
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    replays: int = 0
    version: int = 1


class DeliverWebhook(Model):
    """Jobs queue message: attempt ``attempt`` (1-based) of one delivery.
    SQS delays at most 15 minutes, so a later attempt carries ``not_before``
    and is queued again until then."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhooks.deliver"] = "webhooks.deliver"
    tenant_id: str
    subscription_id: str
    delivery_id: str
    attempt: int = Field(ge=1)
    replay: int = Field(default=0, ge=0)
    not_before: datetime | None = None


class ReplayRange(Model):
    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(description="Deliveries of events that happened from this instant ...")
    until: datetime = Field(description="... through this one")
    only_undelivered: bool = Field(default=False, description="true: parked and pending deliveries only")


class ReplayWebhooks(Model):
    """Jobs queue message: replay a subscription's deliveries in a time range,
    one page per message (the next page queues itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhooks.replay"] = "webhooks.replay"
    tenant_id: str
    subscription_id: str
    since: datetime
    until: datetime
    only_undelivered: bool = False
    after: dict[str, Any] | None = None
