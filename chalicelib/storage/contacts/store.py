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

from chalicelib.domain.contacts.models import (
    Contact,
    ContactKind,
    ContactQuery,
    ContactSort,
    fold,
    search_words,
    tokens_match,
)
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import SortKey
from chalicelib.storage.records.changelog import change_ops
from chalicelib.storage.settings.custom_fields import field_usage_ops
from chalicelib.storage.settings.lists import usage_ops


def index_entries(contact: Contact) -> dict[EntryKey, Item]:
    """Every index entry of a contact, by key."""
    tenant = contact.tenant_id
    attributes: Item = {
        "cid": contact.id,
        "kind": contact.kind.value,
        "type_id": contact.type_id,
        "temperature_id": contact.temperature_id,
        "tags": [fold(t) for t in contact.tags],
        "managers": list(contact.managers),
        "access": contact.access.value,
        "created_by": contact.created_by,
        "created_at": iso(contact.created_at),
        "company_id": contact.company_id,
        "name_key": contact.sort_name,
    }
    facets = [
        "all",
        f"kind#{contact.kind.value}",
        f"type#{contact.type_id or 'none'}",
        f"temp#{contact.temperature_id or 'none'}",
    ]
    facets += [f"tag#{fold(t)}" for t in contact.tags] + [f"mgr#{m}" for m in contact.managers]
    if contact.company_id:
        facets.append(f"company#{contact.company_id}")
    entries: dict[EntryKey, Item] = {}

    def add(pk: str, sk: str, **extra: Any) -> None:
        entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes, **extra}

    for facet in facets:
        add(keys.contact_facet(tenant, facet), keys.contact_by_name(contact.sort_name, contact.id))
    add(keys.contact_facet(tenant, "all"), keys.contact_by_creation(contact.id))
    tokens = contact.search_tokens()
    for token in tokens:
        add(keys.contact_facet(tenant, f"w#{token[:2]}"), keys.contact_by_word(token, contact.id), tokens=tokens)
    for phone in contact.phones():
        add(keys.contact_facet(tenant, f"tel#{phone}"), contact.id)
    return entries


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
        partition, sort, newest_first, extra_check = self._plan(tenant_id, query, phone)
        entries = self.query_entries(
            partition, page, sort=sort, newest_first=newest_first, visible=lambda e: visible(e) and extra_check(e)
        )
        return self.records_of(tenant_id, entries)

    @staticmethod
    def _plan(
        tenant_id: str, query: ContactQuery, phone: str | None
    ) -> tuple[str, SortKey | None, bool, Callable[[Item], bool]]:
        def facet(name: str) -> str:
            return keys.contact_facet(tenant_id, name)

        everything: Callable[[Item], bool] = lambda e: True  # noqa: E731
        by_name = SortKey.begins_with(keys.CONTACT_BY_NAME)
        newest_first = query.sort in (ContactSort.NAME_DESC, ContactSort.CREATED_DESC)
        if phone is not None:
            return facet(f"tel#{phone}"), None, False, everything
        if query.q:
            driving, others = search_words(query.q)

            def first_match(entry: Item) -> bool:
                # A contact with several words matching the driving word is
                # listed once: at its alphabetically first matching word.
                tokens = entry.get("tokens", [])
                matching = sorted(t for t in tokens if t.startswith(driving))
                return (
                    bool(matching)
                    and entry["sk"].startswith(keys.contact_by_word(matching[0], ""))
                    and tokens_match(tokens, others)
                )

            return (facet(f"w#{driving[:2]}"), SortKey.begins_with(keys.CONTACT_BY_WORD + driving), False, first_match)
        if query.sort in (ContactSort.CREATED, ContactSort.CREATED_DESC):
            low = keys.contact_by_creation(
                keys.ulid_time_bound(query.created_from, upper=False) if query.created_from else ""
            )
            high = keys.contact_by_creation(
                keys.ulid_time_bound(query.created_to, upper=True) if query.created_to else "\uffff"
            )
            return facet("all"), SortKey.between(low, high), newest_first, everything
        for name, value in (
            ("company", query.company_id),
            ("tag", fold(query.tag) if query.tag else None),
            ("mgr", query.manager_id),
            ("temp", query.temperature_id),
            ("type", query.type_id),
            ("kind", query.kind.value if query.kind else None),
        ):
            if value:
                return facet(f"{name}#{value}"), by_name, newest_first, everything
        return facet("all"), by_name, newest_first, everything

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]:
        """Contact ids with this E.164 number (caller identification)."""
        found = self._table.query(keys.contact_facet(tenant_id, f"tel#{phone}"), page=PageRequest(limit=50))
        return [e["cid"] for e in found.items]

    def email_owners(self, tenant_id: str, email: str) -> list[str]:
        """Contact ids whose search tokens hold this e-mail address (web form
        duplicates, WEB-3): the caller checks the contacts' details, since a
        token is folded and capped."""
        token = fold(email.strip().lower())
        if len(token) < 2:
            return []
        found = self._table.query(
            keys.contact_facet(tenant_id, f"w#{token[:2]}"),
            sort=SortKey.begins_with(keys.contact_by_word(token, "")),
            page=PageRequest(limit=50),
        )
        return list(dict.fromkeys(e["cid"] for e in found.items))
