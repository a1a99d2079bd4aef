"""Interfaces the domain needs from the outside world; storage implements them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.shared.events import Event


class JobQueue(Protocol):
    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None: ...

    def send_many(self, messages: Iterable[Mapping[str, Any]]) -> None: ...


class EventPublisher(Protocol):
    """Hands an event to its subscribers (bootstrap/events.py) after the
    publisher's own write committed."""

    def publish(self, event: "Event") -> None: ...


class ExpiringItems(Protocol):
    """Items that carry an expiry (sessions, invitations, idempotency records)."""

    def last_sweep(self) -> datetime | None: ...

    def record_sweep(self, until: datetime) -> None: ...

    def delete_expired(self, hour: datetime, now: datetime) -> int:
        """Delete the items expiring within ``hour`` that are expired at ``now``."""
        ...
