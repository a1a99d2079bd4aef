"""Contacts in the single table.

A contact is one item (``T#t#CONTACT#<id>`` / ``META``) holding its details,
tags, custom values, managers and access. Every list and search the API
offers is a Query on *index entries*: small items, one per facet the contact
belongs to (all, kind, type, temperature, each tag, each manager, its
company, each name word / e-mail, each phone), written in the same
transaction as the contact and carrying the attributes that filters and the
access policy need. A list page is one Query on the most selective facet
(filtering the rest, and what the caller may not see, while filling the
page) plus one BatchGetItem for the contacts themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactKind, ContactQuery
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.indexes.contacts import email_facet, index_entries, plan
from chalicelib.storage.records.changelog import change_ops
from chalicelib.storage.settings.custom_fields import field_usage_ops
from chalicelib.storage.settings.lists import usage_ops


def _logged(contact: Contact | None) -> dict[str, Any] | None:
    return contact.model_dump(mode="json", exclude={"tenant_id"}) if contact else None


class ContactStore(IndexedStore[Contact]):
    kind = "contact"
    model = Contact
    entry_id = "cid"

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.contact(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.contact_facet(tenant_id, name)

    def index_entries(self, record: Contact) -> dict[EntryKey, Item]:
        return index_entries(record)

    def migrated(self, record: Contact, find: Callable[[str, str], Item | None]) -> Contact | None:
        """A person shows its company's name (copied since index version 2)."""
        if record.kind != ContactKind.PERSON:
            return None
        company = find("contact", record.company_id) if record.company_id else None
        name = company.get("company_name") if company else None
        return record.model_copy(update={"company_name": name}) if name != record.company_name else None

    def side_ops(self, before: Contact | None, after: Contact | None, *, by: str | None, at: Any) -> list[Any]:
        """The change-log entry and the use counters of the settings entries and
        custom fields the contact references, so that "in use" and "who changed
        what" can never disagree with the contact."""
        record = after or before
        assert record is not None
        tenant = record.tenant_id
        return [
            *change_ops(tenant, "contact", record.id, _logged(before), _logged(after), by=by, at=at),
            *usage_ops(tenant, "contact-types", before.type_id if before else None, after.type_id if after else None),
            *usage_ops(
                tenant,
                "temperatures",
                before.temperature_id if before else None,
                after.temperature_id if after else None,
            ),
            *field_usage_ops(tenant, before.custom_fields if before else None, after.custom_fields if after else None),
        ]

    def query_contacts(
        self,
        tenant_id: str,
        query: ContactQuery,
        page: PageRequest,
        *,
        visible: Callable[[Item], bool],
        phone: str | None = None,
    ) -> Slice[Contact]:
        """One page of contacts for the filters, read from the best index partition."""
        partition, sort, newest_first, extra_check = plan(tenant_id, query, phone)
        entries = self.query_entries(
            partition, page, sort=sort, newest_first=newest_first, visible=lambda e: visible(e) and extra_check(e)
        )
        return self.records_of(tenant_id, entries)

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]:
        """Contact ids with this E.164 number (caller identification)."""
        found = self._table.query(keys.contact_facet(tenant_id, f"tel#{phone}"), page=PageRequest(limit=50))
        return [e["cid"] for e in found.items]

    def email_owners(self, tenant_id: str, email: str) -> list[str]:
        """Contact ids holding exactly this e-mail address, compared lowercased
        (web form duplicates, WEB-3): the address's own small partition."""
        if not email.strip():
            return []
        found = self._table.query(keys.contact_facet(tenant_id, email_facet(email)), page=PageRequest(limit=50))
        return [e["cid"] for e in found.items]
