"""The invoice services over in-memory fakes: numbering (also from many
threads at once), access, the edit and delete rules, stock, the seller kept
at billing, documents rendered once per content, sending once (HIS-2) and
the contact delete guard."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.invoices.documents import MailInvoice, RenderInvoice, SendInvoice
from chalicelib.domain.invoices.models import (
    DuplicateRequest,
    InvoiceChanges,
    InvoiceSettingsUpdate,
    InvoiceStatus,
    NewInvoice,
    NewProduct,
    NewTax,
    SendRequest,
)
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.principal import Role
from tests.unit.invoice_fakes import ADMIN, TENANT, Tenant, World, principal, world


def new_invoice(client_id: str, **fields: Any) -> NewInvoice:
    lines = fields.pop("lines", [{"title": "Consulting", "quantity": "3", "price": "19.99", "discount": "10"}])
    return NewInvoice.model_validate({"client_id": client_id, "lines": lines, **fields})


@pytest.fixture
def w() -> World:
    return world()


def test_numbers_count_up_from_inv0000001_with_the_prefix(w: World) -> None:
    client = w.contacts.add()
    numbers = [w.invoices.create(ADMIN, Tenant(), new_invoice(client.id)).number for _ in range(3)]
    assert numbers == ["INV0000001", "INV0000002", "INV0000003"]
    w.settings.put(
        ADMIN,
        InvoiceSettingsUpdate.model_validate({"numbering": {"prefix": "RE-", "next_number": 42}}),
        expected_version=None,
    )
    assert w.invoices.create(ADMIN, Tenant(), new_invoice(client.id)).number == "RE-0000042"


def test_concurrent_creations_never_share_or_skip_a_number(w: World) -> None:
    """Many threads create at once against one store: the counter moves only
    inside a creation's own write, conditioned on the value read, so every
    number from 1 to N is used exactly once."""
    client = w.contacts.add()
    threads, per_thread, errors = 12, 10, []
    numbers: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                made = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
            except Exception as err:  # collected: a test thread must not die silently
                errors.append(err)
                continue
            with lock:
                numbers.append(made.number)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    expected = [f"INV{n:07d}" for n in range(1, threads * per_thread + 1)]
    assert sorted(numbers) == expected  # no duplicate, no gap
    assert w.settings_store.next_number(TENANT) == threads * per_thread + 1


def test_a_failed_creation_moves_no_number(w: World) -> None:
    client = w.contacts.add()
    with pytest.raises(ValidationFailed):
        w.invoices.create(
            ADMIN, Tenant(), new_invoice(client.id, lines=[{"title": "x", "price": "1", "tax_ids": ["nope"]}])
        )
    with pytest.raises(ValidationFailed):
        w.invoices.create(ADMIN, Tenant(), new_invoice("no-such-contact"))
    assert w.invoices.create(ADMIN, Tenant(), new_invoice(client.id)).number == "INV0000001"


def test_typed_numbers_are_unique_and_the_counter_skips_them(w: World) -> None:
    client = w.contacts.add()
    assert w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, number="INV0000001")).number == "INV0000001"
    with pytest.raises(Conflict, match="INV0000001 is taken"):
        w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, number="INV0000001"))
    assert w.invoices.create(ADMIN, Tenant(), new_invoice(client.id)).number == "INV0000002"
    user = principal("u1")
    shared = w.contacts.add(share="shared_read")
    with pytest.raises(ValidationFailed, match="generated"):
        w.invoices.create(user, Tenant(), new_invoice(shared.id, number="X"))


def test_deleted_numbers_are_not_reused(w: World) -> None:
    client = w.contacts.add()
    first = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    w.invoices.delete(ADMIN, first.id, expected_version=None)
    with pytest.raises(Conflict):
        w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, number=first.number))
    assert w.invoices.create(ADMIN, Tenant(), new_invoice(client.id)).number == "INV0000002"


def test_access_creator_client_readers_others_admins(w: World) -> None:
    creator, reader, stranger = principal("creator"), principal("reader"), principal("stranger")
    client = w.contacts.add(managers=("creator", "reader"))
    invoice = w.invoices.create(creator, Tenant(), new_invoice(client.id))
    # creator: everything
    w.invoices.get(creator, invoice.id)
    # whoever reads the client reads the invoice, and nothing more
    assert w.invoices.get(reader, invoice.id).id == invoice.id
    with pytest.raises(Forbidden):
        w.invoices.update(reader, invoice.id, InvoiceChanges(notes="x"), expected_version=1)
    with pytest.raises(Forbidden):
        w.invoices.delete(reader, invoice.id, expected_version=None)
    # anyone else: it does not exist
    with pytest.raises(NotFound):
        w.invoices.get(stranger, invoice.id)
    assert w.invoices.list(stranger, Tenant(), _query(), _page()).items == []
    assert [i.id for i in w.invoices.list(reader, Tenant(), _query(), _page()).items] == [invoice.id]
    # another tenant's admin: it does not exist
    with pytest.raises(NotFound):
        w.invoices.get(principal("x", Role.ADMIN, tenant="t2"), invoice.id)
    # admins: everything
    w.invoices.update(ADMIN, invoice.id, InvoiceChanges(notes="by admin"), expected_version=1)
    # the creator still reads it after losing the client (they made it)
    w.contacts.contacts[(TENANT, client.id)] = client.model_copy(update={"managers": ["reader"]})
    assert w.invoices.get(creator, invoice.id).notes == "by admin"


def _query(**fields: Any) -> Any:
    from chalicelib.domain.invoices.models import InvoiceQuery

    return InvoiceQuery(**fields)


def _page() -> Any:
    from chalicelib.domain.shared.pagination import PageRequest

    return PageRequest(limit=50)


def test_only_drafts_change_and_versions_are_checked(w: World) -> None:
    client = w.contacts.add()
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    with pytest.raises(PreconditionFailed):
        w.invoices.update(ADMIN, invoice.id, InvoiceChanges(notes="x"), expected_version=5)
    billed = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.BILLED, expected_version=1)
    with pytest.raises(Conflict, match="Only drafts"):
        w.invoices.update(ADMIN, invoice.id, InvoiceChanges(notes="x"), expected_version=billed.version)


def test_billing_takes_stock_keeps_the_seller_rejecting_gives_back(w: World) -> None:
    w.settings.put(ADMIN, InvoiceSettingsUpdate(company_name="Acme"), expected_version=None)
    tracked = w.catalogue.create_product(ADMIN, NewProduct(title="Widget", price="10", track_stock=True, stock="5"))
    untracked = w.catalogue.create_product(ADMIN, NewProduct(title="Service", price="80"))
    client = w.contacts.add()
    lines = [
        {"product_id": tracked.id, "quantity": "2"},
        {"product_id": tracked.id, "quantity": "1.5"},
        {"product_id": untracked.id, "quantity": "1"},
    ]
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, lines=lines))
    assert [line.price for line in invoice.lines] == ["10", "10", "80"]
    billed = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.BILLED, expected_version=1)
    assert w.products.get(TENANT, tracked.id).stock == Decimal("1.5")
    assert billed.seller is not None and billed.seller["company_name"] == "Acme"
    # The profile changes; the billed invoice shows what it was billed with.
    current = w.settings.current(TENANT)
    w.settings.put(ADMIN, InvoiceSettingsUpdate(company_name="Acme New"), expected_version=current.version)
    assert w.documents.content(billed)["seller"]["company_name"] == "Acme"
    paid = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.PAID, expected_version=2)
    back = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.BILLED, expected_version=paid.version)
    assert w.products.get(TENANT, tracked.id).stock == Decimal("1.5")  # paid <-> billed moves no stock
    rejected = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.REJECTED, expected_version=back.version)
    assert w.products.get(TENANT, tracked.id).stock == Decimal("5")
    draft = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.DRAFT, expected_version=rejected.version)
    assert draft.seller is None and w.documents.content(draft)["seller"]["company_name"] == "Acme New"


def test_overdue_is_computed(w: World) -> None:
    client = w.contacts.add()
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, issue_date="2026-11-01", due_date="2026-11-15"))
    assert not invoice.overdue(date(2026, 12, 1))  # a draft is never overdue
    billed = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.BILLED, expected_version=1)
    assert billed.overdue(date(2026, 11, 16)) and not billed.overdue(date(2026, 11, 15))
    assert [i.id for i in w.invoices.list(ADMIN, Tenant(), _query(overdue=True), _page()).items] == [invoice.id]


def test_currency_defaults_and_exchange_rate(w: World) -> None:
    usd_client = w.contacts.add(currency="USD")
    with pytest.raises(ValidationFailed, match="exchange_rate|EUR"):
        w.invoices.create(ADMIN, Tenant(), new_invoice(usd_client.id))
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(usd_client.id, exchange_rate="0.92"))
    assert (invoice.currency, invoice.exchange_rate, invoice.exchange_currency) == ("USD", "0.92", "EUR")
    eur = w.invoices.create(ADMIN, Tenant(), new_invoice(usd_client.id, currency="EUR"))
    assert eur.exchange_rate is None
    with pytest.raises(ValidationFailed):
        w.invoices.create(ADMIN, Tenant(), new_invoice(usd_client.id, currency="EUR", exchange_rate="2"))


def test_deal_must_name_the_client(w: World) -> None:
    client, other = w.contacts.add(), w.contacts.add()
    deal = w.deals.add([other.id])
    with pytest.raises(ValidationFailed, match="deal"):
        w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, deal_id=deal.id))
    assert w.invoices.create(ADMIN, Tenant(), new_invoice(other.id, deal_id=deal.id)).deal_id == deal.id
    assert w.invoices.unlink_deal(TENANT, deal.id) == 1
    assert w.invoices.unlink_deal(TENANT, deal.id) == 0


def test_taxes_snapshot_and_in_use(w: World) -> None:
    vat = w.catalogue.create_tax(ADMIN, NewTax(name="USt 19 %", rate="19"))
    client = w.contacts.add()
    lines = [{"title": "A", "price": "10", "tax_ids": [vat.id]}, {"title": "B", "price": "5", "tax_ids": [vat.id]}]
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, lines=lines))
    assert w.taxes.get(TENANT, vat.id).in_use == 1  # counted per invoice, not per line
    with pytest.raises(Conflict, match="1 invoice"):
        w.catalogue.delete_tax(ADMIN, vat.id, expected_version=None)
    with pytest.raises(Forbidden):
        w.catalogue.create_tax(principal("u"), NewTax(name="x", rate="1"))
    w.invoices.update(
        ADMIN, invoice.id, InvoiceChanges.model_validate({"lines": [{"title": "C", "price": "1"}]}), expected_version=1
    )
    assert w.taxes.get(TENANT, vat.id).in_use == 0
    w.catalogue.delete_tax(ADMIN, vat.id, expected_version=None)


def test_delete_rules(w: World) -> None:
    creator = principal("creator")
    client = w.contacts.add(managers=("creator",))
    invoice = w.invoices.create(creator, Tenant(), new_invoice(client.id))
    billed = w.invoices.change_status(creator, invoice.id, InvoiceStatus.BILLED, expected_version=1)
    with pytest.raises(Conflict, match="Only drafts"):
        w.invoices.delete(creator, invoice.id, expected_version=None)
    w.invoices.delete(ADMIN, invoice.id, expected_version=billed.version)
    assert [e.topic for e in w.events.published] == ["record.deleted:invoice"]


def test_duplicate_is_a_new_draft_with_a_new_number(w: World) -> None:
    client = w.contacts.add()
    source = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, issue_date="2026-10-01", due_date="2026-10-31"))
    w.invoices.change_status(ADMIN, source.id, InvoiceStatus.BILLED, expected_version=1)
    copy = w.invoices.duplicate(ADMIN, Tenant(), source.id, DuplicateRequest())
    assert (copy.number, copy.status, copy.version) == ("INV0000002", InvoiceStatus.DRAFT, 1)
    assert copy.due_date - copy.issue_date == timedelta(days=30) and copy.seller is None
    assert copy.lines == source.lines


def test_documents_render_once_per_content_and_a_changed_draft_again(w: World) -> None:
    client = w.contacts.add()
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    assert w.documents.pdf_url(ADMIN, invoice.id) is None
    assert w.documents.pdf_url(ADMIN, invoice.id) is None
    renders = [m for m in w.queue.messages if m["kind"] == "invoices.render"]
    assert len(renders) == 1  # asked twice, queued once
    job = RenderInvoice.model_validate(renders[0])
    assert w.documents.render(job) is True and w.documents.render(job) is False
    assert w.documents.pdf_url(ADMIN, invoice.id).startswith("memory://")
    w.invoices.update(ADMIN, invoice.id, InvoiceChanges(notes="changed"), expected_version=1)
    assert w.documents.pdf_url(ADMIN, invoice.id) is None
    w.documents.render(job)
    assert len(w.renderer.rendered) == 2 and w.renderer.rendered[-1]["notes"] == "changed"
    # The status alone does not change the document.
    w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.BILLED, expected_version=2)
    assert w.documents.pdf_url(ADMIN, invoice.id) is not None
    with pytest.raises(NotFound):
        w.documents.pdf_url(principal("stranger"), invoice.id)


def test_send_bills_mails_the_pdf_once_and_records_history(w: World) -> None:
    client = w.contacts.add(email="anna@example.de")
    invoice = w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, notes="Danke"))
    sent = w.invoices.send(ADMIN, invoice.id, SendRequest())
    assert sent.status == InvoiceStatus.BILLED and sent.sent_to == "anna@example.de"
    send = SendInvoice.model_validate(next(m for m in w.queue.messages if m["kind"] == "invoices.send"))
    assert w.documents.prepare_mail(send) is True  # the documents function renders, then hands over
    assert len(w.renderer.rendered) == 1
    job = MailInvoice.model_validate(w.jobs.messages[-1])
    assert w.documents.deliver(job) is True
    assert w.documents.deliver(job) is False  # redelivered: nothing twice
    assert w.documents.prepare_mail(send) is False
    (mail,) = w.mailer.sent
    assert mail.to == "anna@example.de" and mail.subject == "Invoice INV0000001"
    assert "Danke" in mail.text
    assert mail.attachments[0].filename == "INV0000001.pdf" and mail.attachments[0].data.startswith(b"%PDF")
    (event,) = w.db.history
    assert (event.parent.kind, event.parent.id, event.kind.value) == ("contact", client.id, "email")
    assert event.text == "Invoice INV0000001 sent by e-mail to anna@example.de"
    paid = w.invoices.change_status(ADMIN, invoice.id, InvoiceStatus.PAID, expected_version=sent.version)
    with pytest.raises(Conflict):
        w.invoices.send(ADMIN, invoice.id, SendRequest())
    del paid
    without = w.contacts.add(email=None)
    other = w.invoices.create(ADMIN, Tenant(), new_invoice(without.id))
    with pytest.raises(ValidationFailed, match="e-mail"):
        w.invoices.send(ADMIN, other.id, SendRequest())


def test_contact_delete_guard_lists_the_invoices(w: World) -> None:
    client, consignee, free = w.contacts.add(), w.contacts.add(), w.contacts.add()
    w.invoices.create(ADMIN, Tenant(), new_invoice(client.id, consignee_id=consignee.id))
    w.invoices.create(ADMIN, Tenant(), new_invoice(client.id))
    assert w.invoices.delete_guard(ADMIN, "contact", client.id) == ["2 invoice(s) name it (INV0000001, INV0000002)"]
    assert w.invoices.delete_guard(ADMIN, "contact", consignee.id) == ["1 invoice(s) name it (INV0000001)"]
    assert w.invoices.delete_guard(ADMIN, "contact", free.id) == []
    assert w.invoices.delete_guard(ADMIN, "deal", client.id) == []
    # Someone who cannot read them learns only how many.
    hidden = w.invoices.delete_guard(principal("x"), "contact", client.id)
    assert hidden == ["2 invoice(s) name it (2 you cannot see)"]
