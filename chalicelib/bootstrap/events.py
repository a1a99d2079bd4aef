"""THE table of what follows what: every domain event (domain/shared/events.py)
and the subscribers that run when it is published. Nothing else in the code
registers a cascade; what deleting a contact does is read here.

Each (event, subscriber) pair runs on its own. A queued subscriber is its own
message on the jobs queue (kind ``event``), so one that fails fails alone and
the dead-letter queue names it; an inline one runs before the publisher
answers, where the publisher needs it done (a new tenant's defaults, a
merge's moves before the merged contact is deleted). Every subscriber is
idempotent: it reads what is left to do, so a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.shared.events import EVENT_TYPES, Event, RecordDeleted, TenantCreated
from chalicelib.domain.shared.principal import Principal, Role

if TYPE_CHECKING:
    from chalicelib.bootstrap.container import Container


@dataclass(frozen=True)
class Subscriber:
    name: str
    run: Callable[["Container", Any], object]
    inline: bool = False


def _system(tenant_id: str, user_id: str = "system") -> Principal:
    return Principal(tenant_id=tenant_id, user_id=user_id, role=Role.ADMIN)


def _seed_settings(c: "Container", e: TenantCreated) -> None:
    owner = Principal(tenant_id=e.tenant_id, user_id=e.owner_id, role=Role.OWNER)
    c.settings_lists.seed(owner)
    c.currency_settings.seed(owner)


# The reference's default contact tags (SPEC "Defaults"), offered on a new tenant.
DEFAULT_CONTACT_TAGS = ("Lead", "Customer", "Supplier", "Staff")


def _seed_contact_tags(c: "Container", e: TenantCreated) -> None:
    for name in DEFAULT_CONTACT_TAGS:
        c.contact_store.save_tag(e.tenant_id, name)  # an upsert: seeding twice changes nothing


def _deleted(kind: str) -> tuple[Subscriber, ...]:
    """What every parent kind's deletion takes along: its history and files."""
    return (
        Subscriber(
            "history.delete_for_parent",
            lambda c, e: c.history_store.delete_all_for_parent(e.tenant_id, kind, e.record_id),
        ),
        Subscriber(
            "tasks.follow_deleted_parent", lambda c, e: c.tasks.on_parent_deleted(e.tenant_id, kind, e.record_id)
        ),
    )


SUBSCRIBERS: dict[str, tuple[Subscriber, ...]] = {
    # A deleted contact takes its history, files, photo and tasks along; a
    # company's persons, and deals and cases, lose the link (CON-11).
    "record.deleted:contact": _deleted("contact")
    + (
        Subscriber("contacts.forget_photo", lambda c, e: c.contact_photos.forget(e.tenant_id, e.record_id)),
        Subscriber("contacts.unlink_persons", lambda c, e: c.contacts.unlink_company(e.tenant_id, e.record_id)),
        Subscriber("deals.unlink_contact", lambda c, e: c.deals.unlink_contact(e.tenant_id, e.record_id)),
        Subscriber("cases.unlink_contact", lambda c, e: c.cases.unlink_contact(e.tenant_id, e.record_id)),
    ),
    # A deleted deal or case takes its history and files; its tasks stay, unlinked.
    "record.deleted:deal": _deleted("deal")
    + (
        Subscriber("deals.forget_projects", lambda c, e: c.deals.forget_projects(e.tenant_id, e.record_id)),
        # Its invoices stay, without the link.
        Subscriber("invoices.unlink_deal", lambda c, e: c.invoices.unlink_deal(e.tenant_id, e.record_id)),
    ),
    # A deleted invoice's PDFs and their state go (its number stays used).
    "record.deleted:invoice": (
        Subscriber("invoices.forget_documents", lambda c, e: c.invoice_document_store.forget(e.tenant_id, e.record_id)),
    ),
    "record.deleted:case": _deleted("case"),
    # Before the merged contact is deleted, what hangs off it moves to the survivor.
    "contacts.merged": (
        Subscriber(
            "history.move",
            lambda c, e: c.history_store.move_all(e.tenant_id, "contact", e.from_id, e.into_id),
            inline=True,
        ),
        Subscriber(
            "tasks.move", lambda c, e: c.tasks.move_parent(e.tenant_id, "contact", e.from_id, e.into_id), inline=True
        ),
        Subscriber(
            "deals.move_contact", lambda c, e: c.deals.move_contact(e.tenant_id, e.from_id, e.into_id), inline=True
        ),
        Subscriber(
            "cases.move_contact", lambda c, e: c.cases.move_contact(e.tenant_id, e.from_id, e.into_id), inline=True
        ),
    ),
    "contacts.company_renamed": (
        Subscriber("contacts.refresh_company_name", lambda c, e: c.contacts.refresh_company_name(e)),
    ),
    "tenant.created": (
        Subscriber("settings.seed", _seed_settings, inline=True),
        Subscriber("contacts.seed_tags", _seed_contact_tags, inline=True),
    ),
    "settings.category_replaced:task-categories": (
        Subscriber(
            "tasks.replace_category",
            lambda c, e: c.tasks.replace_category(_system(e.tenant_id, e.by), e.list_name, e.old_id, e.new_id),
        ),
    ),
}

# Kept for messages queued before the table existed (one message ran every cascade).
LEGACY_CASCADE_KIND = "records.cascade_delete"


class EventDelivery(BaseModel):
    """The job message of one queued (event, subscriber) pair."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["event"] = "event"
    tenant_id: str  # also inside ``event``: here for the logs and whoever reads the dead-letter queue
    topic: str
    subscriber: str
    event: dict[str, Any]


def subscribers(topic: str) -> tuple[Subscriber, ...]:
    return SUBSCRIBERS.get(topic, ())


class EventBus:
    """The EventPublisher: inline subscribers now, the rest one message each."""

    def __init__(self, container: "Container", queue: Any):
        self._container = container
        self._queue = queue

    def publish(self, event: Event) -> None:
        found = subscribers(event.topic)
        for subscriber in found:
            if subscriber.inline:
                subscriber.run(self._container, event)
        queued = [
            EventDelivery(
                tenant_id=event.tenant_id, topic=event.topic, subscriber=s.name, event=event.model_dump(mode="json")
            ).model_dump(mode="json")
            for s in found
            if not s.inline
        ]
        if queued:
            self._queue.send_many(queued)


class UnknownSubscriber(ValueError):
    pass


def deliver(container: "Container", delivery: EventDelivery) -> None:
    """Run one queued subscriber (the jobs consumer calls this)."""
    named = {s.name: s for s in subscribers(delivery.topic)}
    subscriber = named.get(delivery.subscriber)
    event_type = EVENT_TYPES.get(str(delivery.event.get("type")))
    if subscriber is None or event_type is None:
        raise UnknownSubscriber(f"no subscriber {delivery.subscriber!r} for {delivery.topic!r}")
    subscriber.run(container, event_type.model_validate(delivery.event))


def republish_legacy_cascade(container: "Container", body: dict[str, Any]) -> None:
    """A ``records.cascade_delete`` message from before the event table: fan it out."""
    container.events.publish(
        RecordDeleted(tenant_id=body["tenant_id"], record_kind=body["record_kind"], record_id=body["record_id"])
    )
