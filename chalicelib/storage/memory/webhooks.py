"""In-memory twins of the webhook ports (domain/webhooks/ports.py) for unit
tests: the same conditions as storage/webhooks.py (conditional create,
version-checked writes, newest-first pages), plus a resolver and a sender
whose answers a test sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.webhooks.models import Delivery, Subscription
from chalicelib.domain.webhooks.ports import Answer
from chalicelib.domain.webhooks.targets import Target


class MemorySubscriptionStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Subscription] = {}
        self._secrets: dict[tuple[str, str], tuple[str, str | None]] = {}

    def list(self, tenant_id: str) -> list[Subscription]:
        return [s for (t, _), s in sorted(self.items.items()) if t == tenant_id]

    def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        return self.items.get((tenant_id, subscription_id))

    def create(self, subscription: Subscription, secret: str) -> Subscription:
        key = (subscription.tenant_id, subscription.id)
        if key in self.items:
            raise Conflict("The webhook exists already.")
        self.items[key] = subscription
        self._secrets[key] = (secret, None)
        return subscription

    def update(self, before: Subscription, after: Subscription, *, new_secret: str | None = None) -> Subscription:
        key = (after.tenant_id, after.id)
        current = self.items.get(key)
        if current is None:
            raise NotFound("No such webhook.")
        if current.version != before.version:
            raise PreconditionFailed("The webhook changed meanwhile.")
        saved = after.model_copy(update={"version": before.version + 1})
        self.items[key] = saved
        if new_secret is not None:
            self._secrets[key] = (new_secret, self._secrets[key][0])
        return saved

    def delete(self, subscription: Subscription) -> None:
        key = (subscription.tenant_id, subscription.id)
        current = self.items.get(key)
        if current is None:
            raise NotFound("No such webhook.")
        if current.version != subscription.version:
            raise PreconditionFailed("The webhook changed meanwhile.")
        del self.items[key]
        del self._secrets[key]

    def secrets(self, tenant_id: str, subscription_id: str) -> tuple[str, str | None]:
        found = self._secrets.get((tenant_id, subscription_id))
        if found is None:
            raise NotFound("No such webhook.")
        return found


class MemoryDeliveryStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Delivery] = {}

    def add(self, delivery: Delivery) -> bool:
        key = (delivery.tenant_id, delivery.subscription_id, delivery.id)
        if key in self.items:
            return False
        self.items[key] = delivery
        return True

    def get(self, tenant_id: str, subscription_id: str, delivery_id: str) -> Delivery | None:
        return self.items.get((tenant_id, subscription_id, delivery_id))

    def save(self, before: Delivery, after: Delivery) -> Delivery:
        key = (after.tenant_id, after.subscription_id, after.id)
        current = self.items.get(key)
        if current is None or current.version != before.version:
            raise PreconditionFailed("The delivery changed meanwhile.")
        saved = after.model_copy(update={"version": before.version + 1})
        self.items[key] = saved
        return saved

    def delete(self, delivery: Delivery) -> None:
        self.items.pop((delivery.tenant_id, delivery.subscription_id, delivery.id), None)

    def list(
        self,
        tenant_id: str,
        subscription_id: str,
        page: PageRequest,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
    ) -> Slice[Delivery]:
        found = sorted(
            (
                d
                for (t, s, _), d in self.items.items()
                if t == tenant_id
                and s == subscription_id
                and (since is None or d.occurred_at >= since)
                and (until is None or d.occurred_at <= until)
            ),
            key=lambda d: d.id,
            reverse=newest_first,
        )
        after = (page.after or {}).get("id")
        if after is not None:
            found = [d for d in found if (d.id < after if newest_first else d.id > after)]
        items = found[: page.limit]
        more = len(found) > page.limit
        return Slice(items, {"id": items[-1].id} if more and items else None)


@dataclass
class MemoryResolver:
    """host -> addresses; a test changes them between subscribing and delivering (DNS rebinding)."""

    names: dict[str, list[str]] = field(default_factory=dict)

    def resolve(self, host: str, port: int) -> list[str]:
        return list(self.names.get(host, []))


@dataclass
class Sent:
    target: Target
    address: str
    headers: dict[str, str]
    body: bytes


@dataclass
class MemorySender:
    """Records every POST; answers with what ``answer`` says (default 200)."""

    answer: Callable[[Sent], Answer] = lambda sent: Answer(200)
    sent: list[Sent] = field(default_factory=list)

    def post(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Answer:
        request = Sent(target, address, dict(headers), body)
        self.sent.append(request)
        return self.answer(request)


@dataclass
class MemoryQueue:
    """A JobQueue twin that keeps what was sent with its delay."""

    messages: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        self.messages.append((dict(message), delay_seconds))

    def send_many(self, messages: Any) -> None:
        for message in messages:
            self.send(message)

    def take(self) -> list[tuple[dict[str, Any], int]]:
        taken, self.messages = self.messages, []
        return taken
