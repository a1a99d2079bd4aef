"""The invoice ports' in-memory twins and their DynamoDB adapters, held to
the same behaviour: numbers (marker and counter in the invoice's own write),
versions, facets, the mail marked sent once, in-use counters, stock moves.

The numbering race runs on both. moto is not thread-safe, so the DynamoDB
run wraps its client in a lock: each API call is atomic (as DynamoDB's own
are), while the threads still interleave between calls — between reading
the counter and writing the invoice — which is exactly the window the
adapter's conditions (counter = value read, marker absent) must close.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.invoices.models import Invoice, InvoiceLine, InvoiceStatus, LineTax, Product, Tax
from chalicelib.domain.invoices.ports import CounterMoved, InvoiceWrite, NumberClaim, NumberTaken
from chalicelib.domain.records.history import HistoryKind, system_event
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal, Role

T = "t1"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CLIENT = "01CLIENT"


class Stores:
    def __init__(self, invoices: Any, settings: Any, taxes: Any, products: Any):
        self.invoices, self.settings, self.taxes, self.products = invoices, settings, taxes, products


class LockedClient:
    """A boto3 client whose calls run one at a time (moto is not thread-safe)."""

    def __init__(self, inner: Any):
        self._inner = inner
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@pytest.fixture(params=["memory", "dynamo"])
def stores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    if request.param == "memory":
        from chalicelib.storage.memory.invoices import (
            InvoiceDb,
            MemoryInvoiceSettingsStore,
            MemoryInvoiceStore,
            MemoryProductStore,
            MemoryTaxStore,
        )

        db = InvoiceDb()
        db.contact_exists = lambda tenant, contact_id: contact_id == CLIENT
        yield Stores(MemoryInvoiceStore(db), MemoryInvoiceSettingsStore(db), MemoryTaxStore(db), MemoryProductStore(db))
        return
    request.getfixturevalue("aws")
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo import table as table_module
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.invoices.catalogue import ProductStore, TaxStore
    from chalicelib.storage.invoices.settings import InvoiceSettingsStore
    from chalicelib.storage.invoices.store import InvoiceStore

    locked = LockedClient(client("dynamodb"))
    monkeypatch.setattr(table_module, "client", lambda service: locked if service == "dynamodb" else client(service))
    Table().create({**keys.contact(T, CLIENT), "kind": "company"})
    yield Stores(InvoiceStore(), InvoiceSettingsStore(), TaxStore(), ProductStore())


def invoice(number: str = "INV0000001", **fields: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": T,
        "number": number,
        "issue_date": date(2026, 12, 1),
        "due_date": date(2026, 12, 31),
        "client_id": CLIENT,
        "currency": "EUR",
        "lines": [InvoiceLine(title="x", quantity="1", price="1")],
        "created_at": NOW,
        "created_by": "u1",
        "updated_at": NOW,
        "updated_by": "u1",
    }
    return Invoice(**{**values, **fields})


def claim_next(stores: Stores) -> NumberClaim:
    counter = stores.settings.next_number(T)
    return NumberClaim(f"INV{counter:07d}", counter_from=counter)


def test_create_claims_the_number_and_moves_the_counter(stores: Stores) -> None:
    first = invoice()
    stores.invoices.create(first, by="u1", write=InvoiceWrite(claim=claim_next(stores)))
    assert stores.invoices.get(T, first.id) == first
    assert stores.settings.next_number(T) == 2
    with pytest.raises(CounterMoved):  # a claim made from the old counter value
        stores.invoices.create(invoice("INV0000002"), by="u1", write=InvoiceWrite(claim=NumberClaim("INV0000002", 1)))
    with pytest.raises(NumberTaken):
        stores.invoices.create(invoice(), by="u1", write=InvoiceWrite(claim=NumberClaim("INV0000001")))
    assert stores.settings.next_number(T) == 2
    stores.settings.skip_number(T, 2)
    stores.settings.skip_number(T, 2)  # moved already: nothing
    assert stores.settings.next_number(T) == 3


def test_a_missing_client_fails_the_whole_write(stores: Stores) -> None:
    with pytest.raises(ValidationFailed):
        stores.invoices.create(invoice(client_id="01GONE"), by="u1", write=InvoiceWrite(claim=claim_next(stores)))
    assert stores.settings.next_number(T) == 1


def test_update_is_conditioned_on_the_version_read(stores: Stores) -> None:
    first = invoice()
    stores.invoices.create(first, by="u1", write=InvoiceWrite(claim=NumberClaim(first.number)))
    saved = stores.invoices.update(first, first.model_copy(update={"notes": "a"}), by="u1")
    assert saved.version == 2 and stores.invoices.get(T, first.id).notes == "a"
    with pytest.raises(PreconditionFailed):
        stores.invoices.update(first, first.model_copy(update={"notes": "b"}), by="u1")
    stores.invoices.delete(saved, by="u1", at=NOW)
    assert stores.invoices.get(T, first.id) is None


def test_facets_newest_issue_first_with_ranges(stores: Stores) -> None:
    older = invoice("A", issue_date=date(2026, 11, 1), deal_id="d1")
    newer = invoice("B", issue_date=date(2026, 12, 5), consignee_id=CLIENT, status=InvoiceStatus.BILLED)
    for made in (older, newer):
        stores.invoices.create(made, by="u1", write=InvoiceWrite(claim=NumberClaim(made.number)))
    everything = stores.invoices.query(T, "all", PageRequest(limit=10), sort_range=None, visible=lambda e: True)
    assert [i.number for i in everything.items] == ["B", "A"]
    ranged = stores.invoices.query(
        T, "all", PageRequest(limit=10), sort_range=("2026-11-15", "2026-12-31#~"), visible=lambda e: True
    )
    assert [i.number for i in ranged.items] == ["B"]
    billed = stores.invoices.query(T, "status#billed", PageRequest(limit=10), sort_range=None, visible=lambda e: True)
    assert [i.number for i in billed.items] == ["B"]
    assert sorted(e["number"] for e in stores.invoices.entries(T, f"contact#{CLIENT}")) == ["A", "B"]
    assert [e["number"] for e in stores.invoices.entries(T, "deal#d1")] == ["A"]
    page = stores.invoices.query(T, "all", PageRequest(limit=1), sort_range=None, visible=lambda e: True)
    rest = stores.invoices.query(
        T, "all", PageRequest(limit=1, after=page.after), sort_range=None, visible=lambda e: True
    )
    assert [i.number for i in page.items + rest.items] == ["B", "A"]
    by_due = stores.invoices.query(
        T, "due", PageRequest(limit=10), sort_range=("2026-12-31", "2026-12-31#~"), visible=lambda e: True
    )
    assert sorted(i.number for i in by_due.items) == ["A", "B"]  # both due on 2026-12-31
    hidden = stores.invoices.query(
        T, "all", PageRequest(limit=10), sort_range=None, visible=lambda e: e["number"] != "B"
    )
    assert [i.number for i in hidden.items] == ["A"]


def test_tax_and_product_counters_stock_and_deletes(stores: Stores) -> None:
    tax = Tax(id=new_id(), tenant_id=T, name="USt", rate="19", created_at=NOW, updated_at=NOW)
    product = Product(
        id=new_id(),
        tenant_id=T,
        title="W",
        price="1",
        currency="EUR",
        track_stock=True,
        stock=Decimal("5"),
        created_at=NOW,
        updated_at=NOW,
    )
    stores.taxes.create(tax)
    stores.products.create(product)
    line = InvoiceLine(
        product_id=product.id, title="W", quantity="2", price="1", taxes=[LineTax(tax_id=tax.id, name="USt", rate="19")]
    )
    made = invoice(lines=[line, line])
    stores.invoices.create(made, by="u1", write=InvoiceWrite(claim=NumberClaim(made.number)))
    assert stores.taxes.get(T, tax.id).in_use == 1 and stores.products.get(T, product.id).in_use == 1
    with pytest.raises(Conflict, match="1 invoice"):
        stores.taxes.delete(tax)
    with pytest.raises(Conflict, match="1 invoice"):
        stores.products.delete(product)
    billed = made.model_copy(update={"status": InvoiceStatus.BILLED})
    saved = stores.invoices.update(made, billed, by="u1", write=InvoiceWrite(stock={product.id: Decimal("-4")}))
    assert stores.products.get(T, product.id).stock == Decimal("1")
    # A change of another field never overwrites a stock move.
    stale = stores.products.get(T, product.id)
    changed = stores.products.update(stale, {"title": "Widget"}, at=NOW, by="admin")
    assert changed.title == "Widget" and changed.stock == Decimal("1")
    stores.invoices.delete(saved, by="u1", at=NOW, write=InvoiceWrite(stock={product.id: Decimal("4")}))
    assert stores.products.get(T, product.id).stock == Decimal("5")
    assert stores.taxes.get(T, tax.id).in_use == 0
    stores.taxes.delete(tax)
    assert stores.taxes.get(T, tax.id) is None


def test_a_mail_is_marked_sent_once_with_its_history_event(stores: Stores) -> None:
    made = invoice()
    mail = {"id": new_id(), "to": "a@b.de", "status": "queued"}
    stores.invoices.create(made, by="u1", write=InvoiceWrite(claim=NumberClaim(made.number), mail=mail))
    assert stores.invoices.mail(T, made.id, mail["id"])["status"] == "queued"
    author = Principal(tenant_id=T, user_id="u1", role=Role.ADMIN)
    event = system_event(author, "contact", CLIENT, "sent", kind=HistoryKind.EMAIL, at=NOW)
    assert stores.invoices.mail_sent(T, made.id, mail["id"], at=NOW, history=event) is True
    assert stores.invoices.mail_sent(T, made.id, mail["id"], at=NOW, history=event) is False
    assert stores.invoices.mail(T, made.id, mail["id"])["status"] == "sent"


def test_many_threads_create_with_no_gap_and_no_duplicate(stores: Stores) -> None:
    threads, per_thread = 8, 6
    numbers: list[str] = []
    lock = threading.Lock()
    errors: list[Exception] = []
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            for _attempt in range(200):
                made = invoice("-")
                claim = claim_next(stores)
                try:
                    stores.invoices.create(
                        made.model_copy(update={"number": claim.number}), by="u1", write=InvoiceWrite(claim=claim)
                    )
                except (CounterMoved, Conflict):
                    continue  # another thread took it: read the counter again
                except Exception as err:
                    errors.append(err)
                    return
                with lock:
                    numbers.append(claim.number)
                break

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    assert sorted(numbers) == [f"INV{n:07d}" for n in range(1, threads * per_thread + 1)]
    assert stores.settings.next_number(T) == threads * per_thread + 1


def _log(stores: Stores, invoice_id: str) -> list[Any]:
    if hasattr(stores.invoices, "list_changes"):  # the twin holds the log itself
        return stores.invoices.list_changes(T, "invoice", invoice_id, PageRequest(limit=50)).items
    from chalicelib.storage.records.changelog import list_changes

    return list_changes(T, "invoice", invoice_id, PageRequest(limit=50)).items


def test_an_erasure_logs_itself_and_scrubs_the_log_and_mails(stores: Stores) -> None:
    """GDPR (issue 18): the erasure's own entry instead of its diff; the
    earlier entries and the mails lose the values; a deleted invoice's log is
    found by the contact it named."""
    import json

    from chalicelib.domain.invoices.erasure import erase, erasure_entry

    address = {"street": "Königstr. 1", "city": "Berlin", "state": "", "zip": "10115", "country": "DE"}
    first = invoice(client_name="Anna Muster", billing_address=address, sent_to="anna@example.de")
    mail = {"id": new_id(), "to": "anna@example.de", "status": "queued"}
    stores.invoices.create(first, by="u1", write=InvoiceWrite(claim=claim_next(stores), mail=mail))
    erasure = erase(first, CLIENT, by="admin", at=NOW)
    entry = erasure_entry(first, erasure, by="admin", at=NOW)
    saved = stores.invoices.update(first, erasure.after, by="admin", write=InvoiceWrite(change=entry))
    assert saved.client_name == "[erased]" and saved.erased_contact_ids == [CLIENT]
    assert [e.get("erased_contact_ids") for e in stores.invoices.entries(T, f"contact#{CLIENT}")] == [[CLIENT]]
    newest, created = _log(stores, first.id)
    assert newest.id == entry.id
    assert "Anna" in json.dumps([c.model_dump(mode="json") for c in created.changes])
    assert stores.invoices.scrub(T, first.id, erasure.values, mail_to=erasure.mail_to) == 2
    assert stores.invoices.scrub(T, first.id, erasure.values, mail_to=erasure.mail_to) == 0  # idempotent
    text = json.dumps([e.model_dump(mode="json") for e in _log(stores, first.id)], ensure_ascii=False)
    assert "Anna" not in text and "Königstr" not in text and "anna@" not in text and "[erased]" in text
    assert stores.invoices.mail(T, first.id, mail["id"])["to"] == "[erased]"

    second = invoice("INV0000002", consignee_id=CLIENT, client_id=CLIENT)
    stores.invoices.create(second, by="u1", write=InvoiceWrite(claim=claim_next(stores)))
    assert stores.invoices.formerly_naming(T, CLIENT) == []
    stores.invoices.delete(second, by="u1", at=NOW)
    roles = sorted(e["role"] for e in stores.invoices.formerly_naming(T, CLIENT) if e["rid"] == second.id)
    assert roles == ["client", "consignee"]
