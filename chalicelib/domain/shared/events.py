"""What happened in the domain that other features follow up on.

A service publishes an event after its own write committed; what follows
(cascades, moves, seeding) is listed in one table, bootstrap/events.py, and
each (event, subscriber) pair runs on its own: queued as its own SQS message
(so a failing one fails alone and the dead-letter queue names it), or inline
where the publisher needs the result before it answers. Every subscriber is
idempotent: a redelivered message changes nothing the second time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from chalicelib.domain.shared.model import Model


class Event(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str

    @property
    def topic(self) -> str:
        """What subscribers subscribe to (bootstrap/events.py)."""
        raise NotImplementedError


class RecordDeleted(Event):
    """A contact, deal or case is gone: what hung off it goes or is unlinked."""

    type: Literal["record.deleted"] = "record.deleted"
    record_kind: str
    record_id: str

    @property
    def topic(self) -> str:
        return f"record.deleted:{self.record_kind}"


class ContactsMerged(Event):
    """``from_id`` was merged into ``into_id`` and deleted: what hung off it moves."""

    type: Literal["contacts.merged"] = "contacts.merged"
    from_id: str
    into_id: str

    @property
    def topic(self) -> str:
        return self.type


class CompanyRenamed(Event):
    """A company's persons show (and are found by) its new name."""

    type: Literal["contacts.company_renamed"] = "contacts.company_renamed"
    company_id: str

    @property
    def topic(self) -> str:
        return self.type


class TenantCreated(Event):
    """A new tenant gets its defaults (settings lists, currency, tags)."""

    type: Literal["tenant.created"] = "tenant.created"
    owner_id: str

    @property
    def topic(self) -> str:
        return self.type


class CategoryReplaced(Event):
    """A retired settings-list entry hands what uses it to its replacement."""

    type: Literal["settings.category_replaced"] = "settings.category_replaced"
    list_name: str
    old_id: str
    new_id: str
    by: str

    @property
    def topic(self) -> str:
        return f"{self.type}:{self.list_name}"


EVENT_TYPES: dict[str, type[Event]] = {
    model.model_fields["type"].default: model
    for model in (RecordDeleted, ContactsMerged, CompanyRenamed, TenantCreated, CategoryReplaced)
}
