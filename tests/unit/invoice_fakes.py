"""The invoice services wired over in-memory fakes (no moto, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactKind
from chalicelib.domain.invoices.catalogue import Catalogue
from chalicelib.domain.invoices.documents import InvoiceDocuments
from chalicelib.domain.invoices.service import Invoices
from chalicelib.domain.invoices.settings import InvoiceSettingsService
from chalicelib.domain.records.parents import ParentRef, Parents
from chalicelib.domain.settings.currency import MoneySettings
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ContactShare, ListAccess, Operation
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory.invoices import (
    InvoiceDb,
    MemoryDocumentStore,
    MemoryInvoiceSettingsStore,
    MemoryInvoiceStore,
    MemoryLogoBlobs,
    MemoryMailer,
    MemoryProductStore,
    MemoryQueue,
    MemoryTaxStore,
)

TENANT = "t1"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def principal(user: str, role: Role = Role.USER, tenant: str = TENANT) -> Principal:
    return Principal(tenant_id=tenant, user_id=user, role=role)


ADMIN = principal("admin", Role.ADMIN)


@dataclass
class FakeDeal:
    id: str
    contact_ids: list[str]
    created_by: str = "admin"


@dataclass
class FakeContacts:
    contacts: dict[tuple[str, str], Contact] = field(default_factory=dict)

    def add(
        self,
        *,
        managers: tuple[str, ...] = ("admin",),
        share: str = "private",
        email: str | None = "a@b.de",
        tenant: str = TENANT,
        currency: str | None = None,
    ) -> Contact:
        details: list[dict[str, Any]] = [
            {
                "type": "address",
                "category": "billing",
                "primary": True,
                "value": {"street": "Königstr. 1", "city": "Berlin", "state": "", "zip": "10115", "country": "DE"},
            }
        ]
        if email:
            details.append({"type": "email", "category": "work", "value": email, "primary": True})
        contact = Contact(
            id=new_id(),
            tenant_id=tenant,
            kind=ContactKind.COMPANY,
            company_name="Müller GmbH",
            managers=list(managers),
            access=ContactShare(share),
            details=details,
            currency=currency,
            created_at=NOW,
            updated_at=NOW,
            created_by=managers[0],
        )
        self.contacts[(tenant, contact.id)] = contact
        return contact

    def get(self, principal: Principal, contact_id: str) -> Contact:
        contact = self.contacts.get((principal.tenant_id, contact_id))
        if contact is None:
            raise NotFound("The contact does not exist.")
        access.require(principal, Operation.READ, contact.access_record(), what="contact")
        return contact

    def ref(self, principal: Principal, contact_id: str) -> ParentRef | None:
        contact = self.contacts.get((principal.tenant_id, contact_id))
        return ParentRef("contact", contact.id, contact.display_name, contact.access_record()) if contact else None


@dataclass
class FakeDeals:
    deals: dict[tuple[str, str], FakeDeal] = field(default_factory=dict)

    def add(self, contact_ids: list[str]) -> FakeDeal:
        deal = FakeDeal(new_id(), contact_ids)
        self.deals[(TENANT, deal.id)] = deal
        return deal

    def get(self, principal: Principal, deal_id: str) -> FakeDeal:
        deal = self.deals.get((principal.tenant_id, deal_id))
        if deal is None:
            raise NotFound("The deal does not exist.")
        return deal

    def ref(self, principal: Principal, deal_id: str) -> ParentRef | None:
        deal = self.deals.get((principal.tenant_id, deal_id))
        return ParentRef("deal", deal.id, "deal", ListAccess(frozenset(), deal.created_by)) if deal else None


class FakeMoney:
    def __init__(self, currency: str = "EUR"):
        self.settings = MoneySettings(id="money", currency=currency, created_at=NOW, updated_at=NOW)

    def get(self, principal: Principal) -> MoneySettings:
        return self.settings


class FakeRenderer:
    def __init__(self) -> None:
        self.rendered: list[dict[str, Any]] = []

    def pdf(self, document: Any, logo: Any) -> tuple[bytes, bool]:
        self.rendered.append(dict(document))
        return f"%PDF {document['number']} {document['totals']['total']}".encode(), True

    def html(self, document: Any, logo_url: str | None) -> str:
        return f"<h1>{document['number']}</h1>"

    def mail(self, document: Any) -> tuple[str, str]:
        return f"Invoice {document['number']}", f"Total {document['totals']['total']}\n{document['notes']}"


class Events:
    def __init__(self) -> None:
        self.published: list[Any] = []

    def publish(self, event: Any) -> None:
        self.published.append(event)


@dataclass
class World:
    db: InvoiceDb
    contacts: FakeContacts
    deals: FakeDeals
    taxes: MemoryTaxStore
    products: MemoryProductStore
    store: MemoryInvoiceStore
    settings_store: MemoryInvoiceSettingsStore
    queue: MemoryQueue
    mailer: MemoryMailer
    renderer: FakeRenderer
    pdfs: MemoryDocumentStore
    events: Events
    catalogue: Catalogue
    settings: InvoiceSettingsService
    invoices: Invoices
    documents: InvoiceDocuments
    clock: list[datetime]
    jobs: MemoryQueue


def world(currency: str = "EUR") -> World:
    db = InvoiceDb()
    contacts, deals = FakeContacts(), FakeDeals()
    db.contact_exists = lambda tenant, contact_id: (tenant, contact_id) in contacts.contacts
    clock = [NOW]
    taxes, products = MemoryTaxStore(db), MemoryProductStore(db)
    store, settings_store = MemoryInvoiceStore(db), MemoryInvoiceSettingsStore(db)
    queue, mailer, renderer, pdfs, events = (
        MemoryQueue(),
        MemoryMailer(),
        FakeRenderer(),
        MemoryDocumentStore(db),
        Events(),
    )
    money = FakeMoney(currency)
    parents = Parents({"contact": contacts.ref, "deal": deals.ref})
    catalogue = Catalogue(taxes, products, money, clock=lambda: clock[0])
    settings = InvoiceSettingsService(settings_store, MemoryLogoBlobs(), clock=lambda: clock[0])
    invoices = Invoices(
        store,
        settings,
        catalogue,
        contacts,
        deals,
        parents,
        money,
        store,
        queue,
        events,
        clock=lambda: clock[0],
        pause=lambda seconds: None,
        pdfs=pdfs,
    )
    jobs = MemoryQueue()
    documents = InvoiceDocuments(
        invoices, store, settings, pdfs, queue, lambda: renderer, mailer, jobs, clock=lambda: clock[0]
    )
    return World(
        db,
        contacts,
        deals,
        taxes,
        products,
        store,
        settings_store,
        queue,
        mailer,
        renderer,
        pdfs,
        events,
        catalogue,
        settings,
        invoices,
        documents,
        clock,
        jobs,
    )


class Tenant:
    time_zone = "Europe/Berlin"
