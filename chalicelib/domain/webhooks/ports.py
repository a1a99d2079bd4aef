"""What webhooks need from the outside world: storage/webhooks.py implements
each, storage/memory/webhooks.py has the twins the unit tests run on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.webhooks.models import Delivery, Subscription
from chalicelib.domain.webhooks.targets import Target


class SubscriptionStore(Protocol):
    """A tenant's subscriptions (few: one partition) and their signing secrets,
    which are stored sealed and never come back with a subscription."""

    def list(self, tenant_id: str) -> list[Subscription]: ...

    def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        """Strongly consistent: what a write is conditioned on."""
        ...

    def create(self, subscription: Subscription, secret: str) -> Subscription: ...

    def update(self, before: Subscription, after: Subscription, *, new_secret: str | None = None) -> Subscription:
        """Conditioned on ``before.version`` (PreconditionFailed). With
        ``new_secret`` the current secret becomes the previous one."""
        ...

    def delete(self, subscription: Subscription) -> None: ...

    def secrets(self, tenant_id: str, subscription_id: str) -> tuple[str, str | None]:
        """(current secret, previous secret or None), unsealed."""
        ...


class DeliveryStore(Protocol):
    """Each subscription's deliveries, by event id (sortable by time)."""

    def add(self, delivery: Delivery) -> bool:
        """Put a new delivery; False when it exists already (the event came twice)."""
        ...

    def get(self, tenant_id: str, subscription_id: str, delivery_id: str) -> Delivery | None:
        """Strongly consistent."""
        ...

    def save(self, before: Delivery, after: Delivery) -> Delivery:
        """Conditioned on ``before.version`` (PreconditionFailed)."""
        ...

    def delete(self, delivery: Delivery) -> None:
        """Gone whatever its state (GDPR erasure: its payload names a person)."""
        ...

    def list(
        self,
        tenant_id: str,
        subscription_id: str,
        page: PageRequest,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
    ) -> Slice[Delivery]: ...


@dataclass(frozen=True)
class Answer:
    """What one attempt got: an HTTP status, or why there was none."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    def post(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Answer:
        """POST ``body`` to ``target`` connecting to ``address`` (already
        checked) with the target's host name for Host and TLS; never follows
        a redirect; a timeout or refused connection is an Answer, not an error."""
        ...
