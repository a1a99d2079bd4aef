"""What the contact services need from storage (storage/contacts/) and from
the history service, and the identity lookup a bulk job acts with."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.identity.ports import TenantMembers, UserDirectory
from chalicelib.domain.records.ports import TagRegistry
from chalicelib.domain.shared.ports import Visible

if TYPE_CHECKING:
    from chalicelib.domain.contacts.models import Contact, ContactQuery
    from chalicelib.domain.records.history import HistoryEvent
    from chalicelib.domain.shared.pagination import PageRequest, Slice
    from chalicelib.domain.shared.principal import Principal


class ContactStore(Protocol):
    """Contacts and their index entries (storage/contacts/store.py)."""

    def get(self, tenant_id: str, record_id: str) -> Contact | None:
        """Strongly consistent: a write is conditioned on what it reads."""
        ...

    def query_contacts(
        self,
        tenant_id: str,
        query: ContactQuery,
        page: PageRequest,
        *,
        visible: Visible,
        phone: str | None = None,
    ) -> Slice[Contact]:
        """One page for the filters (by name, by creation, or by search word;
        ``phone``: the contacts with this E.164 number)."""
        ...

    def create(self, record: Contact, *, by: str | None) -> Contact:
        """Conflict when the id exists; ValidationFailed for a settings entry or
        custom field that is not active (their use counters move with the contact)."""
        ...

    def update(self, before: Contact, after: Contact, *, by: str | None) -> Contact:
        """Conditional on ``before.version`` (PreconditionFailed); the saved contact."""
        ...

    def delete(self, record: Contact, *, by: str | None, at: datetime) -> None:
        """Conditional on ``record.version`` (PreconditionFailed)."""
        ...

    def tag_names(self, tenant_id: str) -> dict[str, str]:
        """The tag registry: folded name -> display name."""
        ...

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]:
        """Ids of the contacts with this E.164 number (caller identification)."""
        ...

    def email_owners(self, tenant_id: str, email: str) -> list[str]:
        """Ids of the contacts holding exactly this e-mail address (compared
        lowercased; one index key per address, kept in the contact's writes)."""
        ...


class ContactStorage(ContactStore, TagRegistry, Protocol):
    """The whole contact adapter, as the composition root wires it (Contacts,
    contact tags, the new tenant's default tags)."""


class PhotoBlobs(Protocol):
    """Where the images live (storage/contacts/photos.py)."""

    def put(self, tenant_id: str, contact_id: str, data: bytes, content_type: str) -> None: ...

    def get(self, tenant_id: str, contact_id: str) -> tuple[bytes, str]:
        """The image and its media type; NotFound when there is none."""
        ...

    def delete(self, tenant_id: str, contact_id: str) -> None:
        """Idempotent: deleting a missing image succeeds."""
        ...

    def download_url(self, tenant_id: str, contact_id: str, seconds: int) -> str: ...


class SystemEvents(Protocol):
    """A history event a service records about its own record (History.add_system_event)."""

    def add_system_event(self, principal: Principal, kind: str, record_id: str, text: str) -> HistoryEvent: ...


class BulkIdentity(UserDirectory, TenantMembers, Protocol):
    """Managers to set are users of the tenant; a job acts as its creator is now."""
