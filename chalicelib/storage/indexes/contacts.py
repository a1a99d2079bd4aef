"""A contact's index entries and how a contact query reads them (CON-12).

Facets (pk ``T#t#CX#<facet>``): all, kind, type, temperature, each tag, each
manager, its company (each sorted by name), all again by creation, each
name word / e-mail (``w#<first two letters>``, sorted by the word), each
phone (``tel#<e164>``) and each e-mail address exactly (``mail#<address>``,
lowercased: duplicate matching is one key read, not a scan of the word
partition; the entry carries only what the access policy reads, so a rename
does not rewrite it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactQuery, ContactSort, search_words, tokens_match
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.text import fold
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.keys import SortKey
from chalicelib.storage.indexes import Entries, Entry


def email_facet(address: str) -> str:
    """The facet of one e-mail address's exact entries (as ``Contact.emails`` holds it: lowercased)."""
    return f"mail#{address.strip().lower()}"


def index_entries(contact: Contact) -> Entries:
    """Every index entry of a contact, by key."""
    tenant = contact.tenant_id
    attributes: Entry = {
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
    entries: Entries = {}

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
    for email in dict.fromkeys(contact.emails()):
        pk = keys.contact_facet(tenant, email_facet(email))
        entries[(pk, contact.id)] = {
            "pk": pk,
            "sk": contact.id,
            "cid": contact.id,
            "access": contact.access.value,
            "managers": list(contact.managers),
            "created_by": contact.created_by,
        }
    return entries


def plan(
    tenant_id: str, query: ContactQuery, phone: str | None
) -> tuple[str, SortKey | None, bool, Callable[[Entry], bool]]:
    """Where a contact query reads: (partition, sort-key condition, newest
    first, the further check an entry must pass)."""

    def facet(name: str) -> str:
        return keys.contact_facet(tenant_id, name)

    everything: Callable[[Entry], bool] = lambda e: True  # noqa: E731
    by_name = SortKey.begins_with(keys.CONTACT_BY_NAME)
    newest_first = query.sort in (ContactSort.NAME_DESC, ContactSort.CREATED_DESC)
    if phone is not None:
        return facet(f"tel#{phone}"), None, False, everything
    if query.q:
        driving, others = search_words(query.q)

        def first_match(entry: Entry) -> bool:
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
