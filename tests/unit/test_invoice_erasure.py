"""Erasing a contact's personal data from its invoices (GDPR, issue 18),
over the in-memory twins: the invoices stay with their figures, the name,
address and e-mail go everywhere the invoice keeps them (the invoice, its
index entries, its change log, its mails, its PDF), and the erasure itself
is logged without them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.invoices.documents import RenderInvoice
from chalicelib.domain.invoices.erasure import ERASED
from chalicelib.domain.invoices.models import InvoiceChanges, InvoiceStatus, NewInvoice, SendRequest
from chalicelib.domain.shared.errors import Forbidden
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Role
from tests.unit.invoice_fakes import ADMIN, TENANT, Tenant, World, principal, world

PERSONAL = ("Müller GmbH", "Königstr. 1", "10115", "Berlin", "anna@example.de")


def new_invoice(client_id: str, **fields: Any) -> NewInvoice:
    lines = [{"title": "Consulting", "quantity": "3", "price": "19.99", "discount": "10"}]
    return NewInvoice.model_validate({"client_id": client_id, "lines": lines, **fields})


@pytest.fixture
def w() -> World:
    return world()


def everything_kept(w: World) -> str:
    """Every value the invoice twins hold, as one text to search."""
    dumps: list[Any] = [i.model_dump(mode="json") for i in w.db.invoices.values()]
    dumps += [c.model_dump(mode="json") for c in w.db.changes]
    dumps += list(w.db.mails.values())
    dumps += [w.store.entries(TENANT, facet) for facet in ("all", "due")]
    text = json.dumps(dumps, ensure_ascii=False)
    return text + "".join(pdf.decode("utf-8", "replace") for pdf in w.pdfs.objects.values())


def someone_else(w: World) -> Any:
    """A contact with a name and address of its own (the fakes share one)."""
    contact = w.contacts.add(email="bob@example.org")
    address = {"street": "Ringstr. 9", "city": "Köln", "state": "", "zip": "50667", "country": "DE"}
    contact = contact.model_copy(
        update={
            "company_name": "Other AG",
            "details": [
                {"type": "address", "category": "billing", "primary": True, "value": address},
                {"type": "email", "category": "work", "value": "bob@example.org", "primary": True},
            ],
        }
    )
    w.contacts.contacts[(TENANT, contact.id)] = contact
    return contact


def render(w: World, invoice_id: str) -> None:
    w.documents.pdf_url(ADMIN, invoice_id)
    job = next(m for m in reversed(w.queue.messages) if m["kind"] == "invoices.render")
    w.documents.render(RenderInvoice.model_validate(job))


def test_a_clients_invoices_are_kept_without_its_personal_data(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    other = someone_else(w)
    billed = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, language="de"))
    w.invoices.update(ADMIN, billed.id, InvoiceChanges(notes="Danke"), expected_version=1)
    billed = w.invoices.send(ADMIN, billed.id, SendRequest())
    draft = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    # The client is another contact's consignee here: only that part goes.
    shipped = w.invoices.create(ADMIN, Tenant(), new_invoice(other.id, consignee_id=client.id))
    untouched = w.invoices.create(ADMIN, Tenant(), new_invoice(other.id))
    render(w, billed.id)
    render(w, untouched.id)
    assert all(text in everything_kept(w) for text in ("Müller GmbH", "anna@example.de"))

    result = w.invoices.anonymise_contact(ADMIN, client.id)

    assert sorted(result.anonymised) == sorted([billed.id, draft.id, shipped.id])
    assert result.already == [] and result.formerly == []
    kept = everything_kept(w)
    for text in PERSONAL:
        assert text not in kept, text
    after = w.store.get(TENANT, billed.id)
    assert after is not None
    # Kept: the number, status, dates, lines, figures, the seller, the country.
    assert (after.number, after.status, after.lines, after.issue_date) == (
        billed.number,
        InvoiceStatus.BILLED,
        billed.lines,
        billed.issue_date,
    )
    assert after.seller == billed.seller and after.sent_at == billed.sent_at
    assert after.client_id == client.id and after.erased_contact_ids == [client.id]
    assert after.client_name == "[gelöscht]" and after.sent_to == "[gelöscht]"
    assert after.billing_address == {"street": "[gelöscht]", "city": "", "state": "", "zip": "", "country": "DE"}
    (mail,) = [m for (t, i, _), m in w.db.mails.items() if i == billed.id]
    assert mail["to"] == "[gelöscht]"
    # The consignee's part only: the client of that invoice is someone else.
    consigned = w.store.get(TENANT, shipped.id)
    assert consigned is not None
    assert consigned.consignee_name == "[erased]" and consigned.client_name == "Other AG"
    assert consigned.delivery_address is not None and consigned.delivery_address["street"] == "[erased]"
    assert w.store.get(TENANT, untouched.id) == untouched
    # The PDFs that carried the data are gone; another invoice's stays; the next one is anonymous.
    assert w.pdfs.state(TENANT, billed.id) is None and w.pdfs.state(TENANT, untouched.id) is not None
    render(w, billed.id)
    assert w.renderer.rendered[-1]["client"]["name"] == "[gelöscht]"
    assert "Müller" not in everything_kept(w)


def test_the_erasure_is_logged_without_the_erased_values(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    w.invoices.anonymise_contact(ADMIN, client.id)
    log = w.invoices.changes(ADMIN, invoice.id, PageRequest(limit=50)).items
    erasure, created = log
    assert erasure.by == ADMIN.user_id and erasure.action.value == "updated"
    changes = {c.field: (c.old, c.new) for c in erasure.changes}
    assert changes["erased_contact_ids"] == ([], [client.id])
    assert changes["client_name"] == (ERASED, "[erased]")
    assert changes["billing_address"][0] == ERASED
    assert "sent_to" not in changes  # never sent: nothing to erase
    # The creation's entry keeps its shape, with the placeholders in place of the values.
    created_fields = {c.field: c.new for c in created.changes}
    assert created_fields["client_name"] == "[erased]"
    assert created_fields["billing_address"]["street"] == "[erased]"
    assert "Müller" not in json.dumps([e.model_dump(mode="json") for e in log], ensure_ascii=False)


def test_it_is_idempotent_and_lets_the_contact_go(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    assert w.invoices.delete_guard(ADMIN, "contact", client.id) != []
    first = w.invoices.anonymise_contact(TENANT, client.id)  # the system, by tenant id
    assert first.anonymised == [invoice.id]
    log_size = len(w.db.changes)
    second = w.invoices.anonymise_contact(TENANT, client.id)
    assert second.anonymised == [] and second.already == [invoice.id]
    assert len(w.db.changes) == log_size  # no second erasure entry
    # The erasure deletes the contact next: the invoices no longer hold it.
    assert w.invoices.delete_guard(ADMIN, "contact", client.id) == []
    changed = w.store.get(TENANT, invoice.id)
    assert changed is not None and changed.updated_by == "system"


def test_deleted_invoices_change_logs_are_scrubbed_too(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    other = someone_else(w)
    gone = w.invoices.create(ADMIN, Tenant(), new_invoice(other.id, consignee_id=client.id))
    w.invoices.delete(ADMIN, gone.id, expected_version=1)
    assert "Müller GmbH" in everything_kept(w)
    result = w.invoices.anonymise_contact(ADMIN, client.id)
    assert result.formerly == [gone.id] and result.anonymised == []
    log = json.dumps([c.model_dump(mode="json") for c in w.db.changes], ensure_ascii=False)
    assert "Königstr. 1" not in log and "[erased]" in log
    # Only the consignee's part: the client of that invoice was someone else.
    assert "Other AG" in log and "Ringstr. 9" in log


def test_an_invoice_changed_meanwhile_is_erased_from_what_it_is_now(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    real_update, calls = w.store.update, []

    def racing_update(before: Any, after: Any, **kwargs: Any) -> Any:
        if not calls:  # someone else changes the notes just before the erasure writes
            calls.append(1)
            current = w.store.get(TENANT, invoice.id)
            real_update(current, current.model_copy(update={"notes": "meanwhile"}), by="x")
        return real_update(before, after, **kwargs)

    w.store.update = racing_update  # type: ignore[method-assign]
    result = w.invoices.anonymise_contact(ADMIN, client.id)
    assert result.anonymised == [invoice.id]
    after = w.store.get(TENANT, invoice.id)
    assert after is not None and after.notes == "meanwhile" and after.client_name == "[erased]"


def test_only_admins_or_the_system_erase(w: World) -> None:
    client = w.contacts.add(managers=("u1",), share="shared_write")
    w.invoices.create(principal("u1"), Tenant(), new_invoice(client.id))
    with pytest.raises(Forbidden):
        w.invoices.anonymise_contact(principal("u1"), client.id)
    # Another tenant's erasure finds nothing here.
    assert w.invoices.anonymise_contact(principal("admin", Role.ADMIN, tenant="t2"), client.id).anonymised == []
    assert "Müller GmbH" in everything_kept(w)


def test_a_draft_that_named_the_contact_once_has_its_log_scrubbed(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    other = someone_else(w)
    draft = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    w.invoices.update(ADMIN, draft.id, InvoiceChanges(client_id=other.id), expected_version=1)
    assert "Königstr. 1" in everything_kept(w)  # the log of the change names the old client
    result = w.invoices.anonymise_contact(ADMIN, client.id)
    assert result.anonymised == [] and result.formerly == [draft.id]
    assert "Königstr. 1" not in everything_kept(w) and "Müller" not in everything_kept(w)
    current = w.store.get(TENANT, draft.id)
    assert current is not None and current.client_name == "Other AG"  # the invoice itself is someone else's
