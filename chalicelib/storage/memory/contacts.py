"""Twins of the contact stores (storage/contacts/): contacts with their index
entries, and their photos."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.contacts.models import Contact, ContactQuery
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.indexes import Entries
from chalicelib.storage.indexes.contacts import email_facet, index_entries, plan
from chalicelib.storage.memory.db import MemoryDb
from chalicelib.storage.memory.indexed_store import MemoryIndexedStore, Visible, logged
from chalicelib.storage.memory.records import log_change
from chalicelib.storage.memory.settings import use_entries, use_fields

PHOTOS = "photos"  # contact id -> (image bytes, media type)


class MemoryContactStore(MemoryIndexedStore[Contact]):
    kind = "contact"
    model = Contact
    entry_id = "cid"

    def tenant_of(self, record: Contact) -> str:
        return record.tenant_id

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.contact_facet(tenant_id, name)

    def index_entries(self, record: Contact) -> Entries:
        return index_entries(record)

    def tags_of(self, record: Contact) -> list[str]:
        return record.tags

    def effects(self, before: Contact | None, after: Contact | None, *, by: str | None, at: datetime) -> int:
        """The change-log entry and the use counters of the settings entries
        and custom fields the contact references."""
        record = after or before
        assert record is not None
        tenant = record.tenant_id
        return (
            log_change(self._db, tenant, "contact", record.id, logged(before), logged(after), by=by, at=at)
            + use_entries(
                self._db, tenant, "contact-types", before.type_id if before else None, after.type_id if after else None
            )
            + use_entries(
                self._db,
                tenant,
                "temperatures",
                before.temperature_id if before else None,
                after.temperature_id if after else None,
            )
            + use_fields(
                self._db, tenant, before.custom_fields if before else None, after.custom_fields if after else None
            )
        )

    def query_contacts(
        self,
        tenant_id: str,
        query: ContactQuery,
        page: PageRequest,
        *,
        visible: Visible,
        phone: str | None = None,
    ) -> Slice[Contact]:
        partition, sort, newest_first, extra_check = plan(tenant_id, query, phone)
        entries = self.query_entries(
            tenant_id,
            partition,
            page,
            sort=sort,
            newest_first=newest_first,
            visible=lambda e: visible(e) and extra_check(e),
        )
        return self.records_of(tenant_id, entries)

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]:
        found = self.query_entries(tenant_id, self.facet(tenant_id, f"tel#{phone}"), PageRequest(limit=50))
        return [e["cid"] for e in found.items]

    def email_owners(self, tenant_id: str, email: str) -> list[str]:
        if not email.strip():
            return []
        found = self.query_entries(tenant_id, self.facet(tenant_id, email_facet(email)), PageRequest(limit=50))
        return [e["cid"] for e in found.items]


class MemoryPhotoBlobs:
    """The images, one per contact (storage/contacts/photos.py)."""

    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def put(self, tenant_id: str, contact_id: str, data: bytes, content_type: str) -> None:
        self._db.table(tenant_id, PHOTOS)[contact_id] = (bytes(data), content_type)

    def get(self, tenant_id: str, contact_id: str) -> tuple[bytes, str]:
        found: tuple[bytes, str] | None = self._db.table(tenant_id, PHOTOS).get(contact_id)
        if found is None:
            raise NotFound("The file does not exist.")
        return found

    def delete(self, tenant_id: str, contact_id: str) -> None:
        self._db.table(tenant_id, PHOTOS).pop(contact_id, None)

    def download_url(self, tenant_id: str, contact_id: str, seconds: int) -> str:
        return f"memory://photos/{tenant_id}/{contact_id}?expires={seconds}"
