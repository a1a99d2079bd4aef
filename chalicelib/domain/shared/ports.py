"""Interfaces the domain needs from the outside world; storage implements them.

What every feature shares lives here (the jobs queue, the event publisher,
expiring items, the shape of an index entry); each feature's own storage
ports are in ``domain/<feature>/ports.py``. Protocols only: importing this
costs nothing at cold start, and ``storage/memory`` holds a twin of every
port for the unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.shared.events import Event

# An index entry of a listed record (storage/dynamo/indexed_store.py): the
# attributes filters and the access policy read (``rid``/``cid``/``tid`` names
# the record). Plain JSON values, so a dict of Any by nature.
Entry = dict[str, Any]
# Drops what the caller may not see (or what a filter rejects) while a page fills.
Visible = Callable[[Entry], bool]


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
