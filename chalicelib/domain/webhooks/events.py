"""Which committed writes are which webhook events (issue 18, point 6).

Events are read from the table's stream (storage/webhooks.py turns each
stream record of a record item into an ``ItemChange``): a write that failed
its condition or whose transaction was cancelled is in no stream, and every
committed one is, so no committed write loses its event and no failed write
emits one. ``RECORD_EVENTS`` is THE table: one line per record kind (the
entity in the item's key); a new kind that should emit webhooks adds its line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ulid import ULID

from chalicelib.domain.webhooks.models import WebhookEvent

Image = Mapping[str, Any]


@dataclass(frozen=True)
class ItemChange:
    """One committed write of a record's item, as the stream saw it."""

    change_id: str  # the stream record's id: the same when the stream delivers it again
    tenant_id: str
    kind: str  # the entity of the item's key: contact, deal, task, ...
    record_id: str
    at: datetime
    old: dict[str, Any] | None  # None: the item was created
    new: dict[str, Any] | None  # None: the item was deleted


Happened = Callable[[Image | None, Image | None], bool]


def changed(field: str) -> Happened:
    """The field has another value than before (not on create or delete)."""
    return lambda old, new: old is not None and new is not None and old.get(field) != new.get(field)


def became(field: str, values: Collection[Any]) -> Happened:
    """The field entered one of ``values`` (on create too)."""
    return (
        lambda old, new: new is not None and new.get(field) in values and (old is None or old.get(field) not in values)
    )


def became_set(field: str) -> Happened:
    """The field got a value it did not have (on create too)."""
    return lambda old, new: new is not None and new.get(field) is not None and (old is None or old.get(field) is None)


@dataclass(frozen=True)
class Transition:
    event_type: str
    happened: Happened


@dataclass(frozen=True)
class RecordEvents:
    name: str  # the event types' prefix and the body's ``data.object``
    lifecycle: bool = True  # <name>.created / .updated / .deleted
    transitions: tuple[Transition, ...] = ()


# key entity -> what its writes emit (one line per record kind)
RECORD_EVENTS: dict[str, RecordEvents] = {
    "contact": RecordEvents("contact"),
    "deal": RecordEvents("deal", transitions=(Transition("deal.stage_changed", changed("stage_id")),)),
    "task": RecordEvents("task"),
    "case": RecordEvents("case"),
    "call": RecordEvents("call", lifecycle=False, transitions=(Transition("call.ended", became_set("ended_at")),)),
    "invoice": RecordEvents("invoice", transitions=(Transition("invoice.status_changed", changed("status")),)),
    # An import's outcome is written once, with its report ready (domain/imports/models.ImportOutcome).
    "import": RecordEvents(
        "import", lifecycle=False, transitions=(Transition("import.finished", became_set("outcome")),)
    ),
}

# Attributes of an item that are storage's, never a record's value.
_STORAGE_ATTRIBUTES = frozenset({"pk", "sk", "ttl", "tenant_id"})
_STORAGE_PREFIXES = ("gsi", "sched_")


def values(image: Image | None) -> dict[str, Any] | None:
    """The record's values in an item image (keys and index attributes dropped)."""
    if image is None:
        return None
    return {
        k: v for k, v in sorted(image.items()) if k not in _STORAGE_ATTRIBUTES and not k.startswith(_STORAGE_PREFIXES)
    }


def event_id(change_id: str, event_type: str, at: datetime) -> str:
    """The same for the same change (a stream record delivered twice makes the
    same deliveries), sortable by time like every id."""
    digest = hashlib.sha256(f"{change_id}\n{event_type}".encode()).digest()
    millis = max(0, int(at.timestamp() * 1000))
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + digest[:10]))


def events_of(change: ItemChange) -> list[WebhookEvent]:
    """The webhook events of one committed write (none for kinds not in the table)."""
    spec = RECORD_EVENTS.get(change.kind)
    if spec is None:
        return []
    old, new = values(change.old), values(change.new)
    if old is not None and new is not None and old == new:
        return []  # nothing the record shows changed (e.g. a rewrite of the same values)
    changed_old: dict[str, Any] | None = None
    if old is not None and new is not None:
        changed_old = {k: old.get(k) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}
    types: list[str] = []
    if spec.lifecycle:
        types.append(f"{spec.name}.{'created' if old is None else 'deleted' if new is None else 'updated'}")
    types += [t.event_type for t in spec.transitions if t.happened(change.old, change.new)]
    return [
        WebhookEvent(
            id=event_id(change.change_id, event_type, change.at),
            type=event_type,
            tenant_id=change.tenant_id,
            occurred_at=change.at,
            kind=spec.name,
            record_id=change.record_id,
            new=new,
            old=old if new is None else changed_old,
        )
        for event_type in types
    ]
