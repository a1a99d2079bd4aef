"""Erasing a contact's personal data from invoices (GDPR art. 17; issue 18).

Invoices must be kept (tax law: ten years in Germany), so an erased contact's
invoices stay, with the number, dates, lines and figures, but what names or
reaches the person is replaced by a neutral placeholder in the invoice's
language: the client's or consignee's name, their address (only the country
stays: it decides the tax treatment and EN 16931 needs it, BT-55/BT-80), and
the address the invoice was mailed to. The invoices keep no VAT ID of their
customers (only the seller's own), so there is no company VAT ID to keep.

The same values replace the erased ones in the invoice's earlier change-log
entries and mails; the write itself is logged as an erasure that names the
fields, never their old values (``ERASED``). Texts a user typed (notes, line
descriptions) are not searched for names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.invoices.models import Invoice
from chalicelib.domain.records.changelog import ChangeEntry, change_entry

# Shown on the invoice, its PDF and its answers instead of a name, by language.
PLACEHOLDER = {"en": "[erased]", "de": "[gelöscht]"}
# The old value of an erased field in the erasure's change-log entry.
ERASED = "(erased)"


@dataclass(frozen=True)
class Erasure:
    """An invoice with one contact's personal data replaced."""

    after: Invoice
    # field -> the value that replaces it everywhere (invoice, change log)
    values: Mapping[str, Any]
    # the placeholder for the mails' recipient, when the contact was the client
    mail_to: str | None


@dataclass
class InvoiceErasureResult:
    """What ``Invoices.anonymise_contact`` did (ids only: no personal data)."""

    anonymised: list[str] = field(default_factory=list)  # live invoices rewritten now
    already: list[str] = field(default_factory=list)  # erased earlier (scrubbed again: idempotent)
    # invoices that named it once (deleted, or client/consignee changed) whose change logs were scrubbed
    formerly: list[str] = field(default_factory=list)
    documents_dropped: int = 0


def placeholder(invoice: Invoice) -> str:
    return PLACEHOLDER.get(invoice.language, PLACEHOLDER["en"])


def _address(address: Mapping[str, Any] | None, text: str) -> dict[str, str] | None:
    if not address:
        return None
    return {"street": text, "city": "", "state": "", "zip": "", "country": str(address.get("country") or "")}


def erase(invoice: Invoice, contact_id: str, *, by: str, at: datetime) -> Erasure:
    """The invoice without ``contact_id``'s personal data (client and/or
    consignee); ``erased_contact_ids`` records it, which the delete guard of
    contacts and a second erasure read."""
    text = placeholder(invoice)
    values: dict[str, Any] = {}
    if invoice.client_id == contact_id:
        values |= {
            "client_name": text,
            "billing_address": _address(invoice.billing_address, text),
            "sent_to": text if invoice.sent_to else None,
        }
    if invoice.consignee_id == contact_id:
        values |= {"consignee_name": text, "delivery_address": _address(invoice.delivery_address, text)}
    erased = list(dict.fromkeys([*invoice.erased_contact_ids, contact_id]))
    after = invoice.model_copy(update={**values, "erased_contact_ids": erased, "updated_at": at, "updated_by": by})
    return Erasure(after=after, values=values, mail_to=text if invoice.client_id == contact_id else None)


def erasure_entry(before: Invoice, erasure: Erasure, *, by: str, at: datetime) -> ChangeEntry:
    """The change-log entry of the erasure: the fields erased (old value
    ``ERASED``), the placeholders and ``erased_contact_ids``; nothing erased."""
    logged_before = before.model_dump(mode="json", exclude={"tenant_id"})
    for name in erasure.values:
        if logged_before.get(name) is not None:
            logged_before[name] = ERASED
    logged_after = erasure.after.model_dump(mode="json", exclude={"tenant_id"})
    entry = change_entry("invoice", before.id, logged_before, logged_after, by=by, at=at)
    assert entry is not None  # erased_contact_ids always changes
    return entry


def erased_values(roles: list[str], language: str = "en") -> tuple[dict[str, Any], str | None]:
    """The replacement values in the change log of an invoice that named the
    contact once, by the roles it had (a deleted invoice's language is gone
    with it: English). Every value of those fields in that log is replaced:
    which were the contact's is not known any more."""
    text = PLACEHOLDER.get(language, PLACEHOLDER["en"])
    address = {"street": text, "city": "", "state": "", "zip": "", "country": ""}
    values: dict[str, Any] = {}
    if "client" in roles:
        values |= {"client_name": text, "billing_address": address, "sent_to": text}
    if "consignee" in roles:
        values |= {"consignee_name": text, "delivery_address": address}
    return values, (text if "client" in roles else None)


def scrubbed_changes(changes: list[dict[str, Any]], values: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Change-log field changes (``{field, old, new}``) with every set value
    of an erased field replaced; None when nothing had to change."""
    result, touched = [], False
    for change in changes:
        name = str(change.get("field"))
        if name in values:
            replaced = dict(change)
            for side in ("old", "new"):
                if replaced.get(side) is not None and replaced[side] != ERASED and replaced[side] != values[name]:
                    replaced[side] = values[name]
                    touched = True
            result.append(replaced)
        else:
            result.append(change)
    return result if touched else None
