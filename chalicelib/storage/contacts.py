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

from typing import Any, Callable, Iterable

from chalicelib.domain.clock import iso
from chalicelib.domain.contacts import Contact, ContactQuery, ContactSort, fold
from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.pagination import PageRequest, Slice
from chalicelib.storage import keys
from chalicelib.storage.table import Delete, Put, SortKey, Table, Update, key_of

Item = dict[str, Any]
EntryKey = tuple[str, str]
MAX_TRANSACTION = 100


def _contact_item(contact: Contact) -> Item:
    return {**contact.model_dump(mode="json"), **keys.contact(contact.tenant_id, contact.id)}


def index_entries(contact: Contact) -> dict[EntryKey, Item]:
    """Every index entry of a contact, by key."""
    tenant = contact.tenant_id
    attributes: Item = {
        "cid": contact.id, "kind": contact.kind.value, "type_id": contact.type_id,
        "temperature_id": contact.temperature_id, "tags": [fold(t) for t in contact.tags],
        "managers": list(contact.managers), "access": contact.access.value, "created_by": contact.created_by,
        "created_at": iso(contact.created_at), "company_id": contact.company_id, "name_key": contact.sort_name,
    }
    facets = ["all", f"kind#{contact.kind.value}", f"type#{contact.type_id or 'none'}",
              f"temp#{contact.temperature_id or 'none'}"]
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


def _entry_ops(before: Contact | None, after: Contact | None) -> list[Put | Delete]:
    old = index_entries(before) if before else {}
    new = index_entries(after) if after else {}
    ops: list[Put | Delete] = [Put(item, must_not_exist=False) for key, item in new.items() if old.get(key) != item]
    ops += [Delete({"pk": pk, "sk": sk}) for (pk, sk) in old if (pk, sk) not in new]
    return ops


def _tag_ops(before: Contact | None, after: Contact | None) -> list[Update]:
    """New tags enter the tenant's tag list (created on the fly, CON-6)."""
    if after is None:
        return []
    known = {fold(t) for t in before.tags} if before else set()
    return [Update(keys.tag(after.tenant_id, "contact", fold(t)), set={"name": t}, bump_version=False,
                   must_exist=False) for t in after.tags if fold(t) not in known]


def _checked(ops: list[Any]) -> list[Any]:
    if len(ops) > MAX_TRANSACTION:
        raise ValidationFailed("This change touches too much at once; split it into smaller changes.",
                               errors=[FieldError("body", f"{len(ops)} writes, at most {MAX_TRANSACTION}")])
    return ops


class ContactStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str, contact_id: str) -> Contact | None:
        item = self._table.get(keys.contact(tenant_id, contact_id))
        return Contact.model_validate(item) if item else None

    def get_many(self, tenant_id: str, contact_ids: Iterable[str]) -> list[Contact]:
        """In the order asked; missing ones left out."""
        ordered = list(dict.fromkeys(contact_ids))
        found = {i["pk"]: i for i in self._table.get_many(keys.contact(tenant_id, c) for c in ordered)}
        return [Contact.model_validate(found[keys.contact(tenant_id, c)["pk"]])
                for c in ordered if keys.contact(tenant_id, c)["pk"] in found]

    def create(self, contact: Contact, extra: list[Any] = ()) -> None:  # type: ignore[assignment]
        self._table.transact(_checked([Put(_contact_item(contact)), *_entry_ops(None, contact),
                                       *_tag_ops(None, contact), *extra]))

    def update(self, before: Contact, after: Contact, *, expected_version: int, extra: list[Any] = ()) -> Contact:  # type: ignore[assignment]
        item = _contact_item(after)
        changes = {k: v for k, v in item.items() if k not in ("pk", "sk", "id", "version", "tenant_id")}
        self._table.transact(_checked([
            Update(keys.contact(after.tenant_id, after.id), set=changes, expected_version=expected_version),
            *_entry_ops(before, after), *_tag_ops(before, after), *extra]))
        return after.model_copy(update={"version": expected_version + 1})

    def delete(self, contact: Contact, *, expected_version: int | None, extra: list[Any] = ()) -> None:  # type: ignore[assignment]
        self._table.transact(_checked([
            Delete(keys.contact(contact.tenant_id, contact.id), expected_version=expected_version, must_exist=True),
            *_entry_ops(contact, None), *extra]))

    def query(self, tenant_id: str, query: ContactQuery, page: PageRequest, *,
              visible: Callable[[Item], bool], phone: str | None = None) -> Slice[Contact]:
        """One page of contacts for the filters, read from the best index partition."""
        partition, sort, newest_first, extra_check = self._plan(tenant_id, query, phone)
        entries = self._table.query(partition, sort=sort, page=page, newest_first=newest_first,
                                    visible=lambda e: visible(e) and extra_check(e), consistent=True)
        contacts = self.get_many(tenant_id, [e["cid"] for e in entries.items])
        return Slice(contacts, entries.after)

    @staticmethod
    def _plan(tenant_id: str, query: ContactQuery,
              phone: str | None) -> tuple[str, SortKey | None, bool, Callable[[Item], bool]]:
        def facet(name: str) -> str:
            return keys.contact_facet(tenant_id, name)

        everything: Callable[[Item], bool] = lambda e: True  # noqa: E731
        by_name = SortKey.begins_with(keys.CONTACT_BY_NAME)
        newest_first = query.sort in (ContactSort.NAME_DESC, ContactSort.CREATED_DESC)
        if phone is not None:
            return facet(f"tel#{phone}"), None, False, everything
        if query.q:
            prefix = fold(query.q)

            def first_match(entry: Item) -> bool:
                # A contact with several words matching the prefix is listed once:
                # at its alphabetically first matching word.
                matching = sorted(t for t in entry.get("tokens", []) if t.startswith(prefix))
                return bool(matching) and entry["sk"].startswith(keys.contact_by_word(matching[0], ""))
            return (facet(f"w#{prefix[:2]}"), SortKey.begins_with(keys.CONTACT_BY_WORD + prefix), False,
                    first_match)
        if query.sort in (ContactSort.CREATED, ContactSort.CREATED_DESC):
            low = keys.contact_by_creation(
                keys.ulid_time_bound(query.created_from, upper=False) if query.created_from else "")
            high = keys.contact_by_creation(
                keys.ulid_time_bound(query.created_to, upper=True) if query.created_to else "\uffff")
            return facet("all"), SortKey.between(low, high), newest_first, everything
        for name, value in (("company", query.company_id), ("tag", fold(query.tag) if query.tag else None),
                            ("mgr", query.manager_id), ("temp", query.temperature_id), ("type", query.type_id),
                            ("kind", query.kind.value if query.kind else None)):
            if value:
                return facet(f"{name}#{value}"), by_name, newest_first, everything
        return facet("all"), by_name, newest_first, everything

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]:
        """Contact ids with this E.164 number (caller identification)."""
        found = self._table.query(keys.contact_facet(tenant_id, f"tel#{phone}"), page=PageRequest(limit=50))
        return [e["cid"] for e in found.items]

    # ---- tags ----

    def tag_names(self, tenant_id: str, entity: str = "contact") -> dict[str, str]:
        """The tenant's tags: folded name -> display name."""
        names: dict[str, str] = {}
        after = None
        while True:
            found = self._table.query(keys.tags(tenant_id, entity), page=PageRequest(limit=200, after=after))
            names.update({i["sk"]: i["name"] for i in found.items})
            if found.after is None:
                return names
            after = found.after

    def count_tagged(self, tenant_id: str, folded_tag: str, visible: Callable[[Item], bool]) -> int:
        count, after = 0, None
        while True:
            found = self._table.query(keys.contact_facet(tenant_id, f"tag#{folded_tag}"),
                                      sort=SortKey.begins_with(keys.CONTACT_BY_NAME),
                                      page=PageRequest(limit=200, after=after), visible=visible)
            count += len(found.items)
            if found.after is None:
                return count
            after = found.after

    def save_tag(self, tenant_id: str, name: str, entity: str = "contact") -> None:
        """Put a registry entry, or respell it (SET-12 rename)."""
        self._table.update(keys.tag(tenant_id, entity, fold(name)), set={"name": name}, bump_version=False,
                           must_exist=False)

    def delete_tag(self, tenant_id: str, folded_tag: str, entity: str = "contact") -> None:
        """Remove a registry entry (SET-12 rename and delete, once no contact holds it)."""
        self._table.delete(keys.tag(tenant_id, entity, folded_tag))


def entry_key(item: Item) -> dict[str, str]:
    return key_of(item)
