"""Shared by the reports tests: a small tenant in Europe/Berlin with deals,
contacts, tasks, invoices and calls written as plain specs (the tests compute
their expected figures from these specs, not from the code under test), the
reports service over the in-memory twins, and the workbook read back."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.contacts.models import Contact, ContactKind
from chalicelib.domain.deals.models import BidType, Deal
from chalicelib.domain.identity.models import Group, Tenant, User
from chalicelib.domain.invoices.models import Invoice, InvoiceLine, InvoiceStatus
from chalicelib.domain.reports.service import Reports
from chalicelib.domain.settings.currency import ExchangeRate, MoneySettings
from chalicelib.domain.settings.lists import ListEntry, StageStatus
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.tasks.models import Task, TaskStatus
from chalicelib.domain.voip.models import Call, CallStatus
from chalicelib.storage.memory.reports import (
    MemoryDirectory,
    MemoryLists,
    MemoryMailer,
    MemoryMoney,
    MemoryQueue,
    MemoryReportFiles,
    MemoryReportSettings,
    MemoryReportStore,
    MemoryRows,
    MemoryScheduleStore,
    OnlyCurrencies,
)

T = "t1"
ZONE = "Europe/Berlin"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ANNA, BEN, CLEO, ADMIN = "u-anna", "u-ben", "u-cleo", "u-admin"
NAMES = {ANNA: "Anna", BEN: "Ben", CLEO: "Cleo", ADMIN: "Ada Admin"}
RATES = {"USD": Decimal("0.9"), "GBP": Decimal("1.15"), "EUR": Decimal(1)}
STAGES = [("s-lead", "Lead", "open", 1), ("s-offer", "Offer", "open", 2), ("s-won", "Won", "won", 3)]
STAGES += [("s-lost", "Lost", "lost", 4)]
TYPES = {"ct-client": "Client", "ct-supplier": "Supplier"}
TEMPERATURES = {"tp-hot": "Hot", "tp-cold": "Cold"}
CATEGORIES = {"k-call": "Call", "k-meeting": "Meeting"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# id, responsible, stage, created (UTC), expected close, actual close, amount, currency, periods, probability,
# access list, creator, contacts
DEALS = [
    (
        "d1",
        ANNA,
        "s-won",
        "2026-11-02T09:00",
        "2026-11-10",
        "2026-11-05",
        "1000.00",
        "EUR",
        None,
        100,
        [],
        ANNA,
        ["c1"],
    ),
    ("d2", ANNA, "s-won", "2026-10-15T09:00", None, "2026-11-05", "200.00", "USD", 3, 100, [], ANNA, []),
    ("d3", BEN, "s-won", "2026-11-03T09:00", None, "2026-11-30", "99.99", "GBP", None, 100, [], BEN, ["c2"]),
    ("d4", BEN, "s-lost", "2026-11-04T09:00", None, "2026-11-06", "500.00", "EUR", None, 0, [], BEN, []),
    ("d5", ANNA, "s-lead", "2026-11-05T09:00", "2026-11-25", None, "300.00", "EUR", None, 10, [], ANNA, []),
    ("d6", BEN, "s-offer", "2026-11-06T09:00", "2026-11-28", None, "1000.00", "USD", None, 50, [], BEN, []),
    ("d7", BEN, "s-offer", "2026-09-01T09:00", "2026-11-10", None, "50.00", "EUR", None, 50, [], BEN, []),
    # Private to Cleo: Anna may not read it, an admin counts it.
    ("d8", CLEO, "s-won", "2026-11-07T09:00", None, "2026-11-08", "7777.00", "EUR", None, 100, [CLEO], CLEO, ["c4"]),
    # 23:30 UTC on 31 October is 00:30 on 1 November in Berlin: created in November.
    ("d9", ANNA, "s-won", "2026-10-31T23:30", None, "2026-12-01", "10.00", "EUR", None, 100, [], ANNA, []),
    # 22:30 UTC on 31 October is 23:30 in Berlin: still October.
    ("d10", ANNA, "s-lead", "2026-10-31T22:30", "2027-01-15", None, "20.00", "EUR", None, 10, [], ANNA, []),
]
# id, managers, access, type, temperature, created (UTC)
CONTACTS = [
    ("c1", [ANNA], "shared_read", "ct-client", "tp-hot", "2026-11-02T09:00"),
    ("c2", [ANNA, BEN], "shared_read", "ct-supplier", "tp-cold", "2026-11-03T09:00"),
    ("c3", [BEN], "shared_read", None, None, "2026-10-01T09:00"),
    ("c4", [CLEO], "private", "ct-client", "tp-hot", "2026-11-04T09:00"),
    ("c5", [], "shared_read", "ct-client", "tp-hot", "2026-11-10T09:00"),
]
# id, responsible, creator, category, created, due, closed (UTC)
TASKS = [
    ("t1", ANNA, ANNA, "k-call", "2026-11-02T09:00", "2026-11-03T09:00", "2026-11-03T10:00"),
    ("t2", ANNA, ANNA, "k-meeting", "2026-11-05T09:00", "2026-11-10T09:00", None),
    ("t3", BEN, BEN, "k-call", "2026-11-06T09:00", "2026-12-05T09:00", None),
    ("t4", BEN, BEN, None, "2026-10-01T09:00", "2026-11-01T09:00", None),
    ("t5", CLEO, CLEO, "k-call", "2026-11-07T09:00", "2026-11-08T09:00", None),
]
# id, creator, status, issue, due, total, currency, client
INVOICES = [
    ("i1", ANNA, "billed", "2026-11-02", "2026-11-10", "119.00", "EUR", "c1"),
    ("i2", ANNA, "paid", "2026-11-03", "2026-11-17", "50.00", "USD", "c1"),
    ("i3", BEN, "rejected", "2026-11-04", "2026-11-18", "10.00", "EUR", "c2"),
    ("i4", BEN, "draft", "2026-11-05", "2026-11-19", "999.00", "EUR", "c2"),
    ("i5", BEN, "billed", "2026-11-06", "2026-12-06", "200.00", "GBP", "c2"),
    ("i6", CLEO, "billed", "2026-11-07", "2026-11-09", "70.00", "EUR", "c4"),
]
# id, operator, status, started (UTC), duration, participants
CALLS = [
    ("k1", ANNA, "answered", "2026-11-02T09:00", 120, [ANNA]),
    ("k2", ANNA, "missed", "2026-11-03T09:00", 0, [ANNA]),
    ("k3", BEN, "answered", "2026-11-04T09:00", 300, [BEN]),
    ("k4", BEN, "answered", "2026-10-30T09:00", 60, [BEN]),
    ("k5", None, "missed", "2026-11-05T09:00", 0, [ANNA, BEN]),
    ("k6", CLEO, "answered", "2026-11-06T09:00", 45, [CLEO]),
]


def deal_value(spec: tuple[Any, ...]) -> Decimal:
    amount, periods = Decimal(spec[6]), spec[8]
    return amount * periods if periods else amount


def in_eur(amount: Decimal, currency: str) -> Decimal:
    return amount * RATES[currency]


def money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def stage_status(stage_id: str) -> str:
    return next(s[2] for s in STAGES if s[0] == stage_id)


def _deal(spec: tuple[Any, ...], tenant: str) -> Deal:
    (did, resp, stage, created, expected, actual, amount, currency, periods, prob, acl, creator, contacts) = spec
    return Deal(
        id=did,
        tenant_id=tenant,
        title=f"Deal {did}",
        contact_id=contacts[0] if contacts else None,
        amount=amount,
        currency=currency,
        bid_type=BidType.HOUR if periods else BidType.FIXED,
        periods=periods,
        expected_close_date=date.fromisoformat(expected) if expected else None,
        actual_close_date=date.fromisoformat(actual) if actual else None,
        responsible_id=resp,
        stage_id=stage,
        stage_status=StageStatus(stage_status(stage)),
        probability=prob,
        access_list=acl,
        created_at=utc(created),
        created_by=creator,
        updated_at=utc(created),
        updated_by=creator,
    )


def _contact(spec: tuple[Any, ...], tenant: str) -> Contact:
    cid, managers, access, type_id, temp, created = spec
    return Contact(
        id=cid,
        tenant_id=tenant,
        kind=ContactKind.PERSON,
        first_name="Person",
        last_name=cid,
        type_id=type_id,
        temperature_id=temp,
        managers=managers,
        access=ContactShare(access),
        created_at=utc(created),
        created_by=managers[0] if managers else ADMIN,
        updated_at=utc(created),
    )


def _task(spec: tuple[Any, ...], tenant: str) -> Task:
    tid, resp, creator, category, created, due, closed = spec
    return Task(
        id=tid,
        tenant_id=tenant,
        title=f"Task {tid}",
        category_id=category,
        due_at=utc(due),
        responsible_id=resp,
        status=TaskStatus.CLOSED if closed else TaskStatus.OPEN,
        closed_at=utc(closed) if closed else None,
        created_at=utc(created),
        created_by=creator,
        updated_at=utc(created),
    )


def _invoice(spec: tuple[Any, ...], tenant: str) -> Invoice:
    iid, creator, status, issue, due, total, currency, client = spec
    return Invoice(
        id=iid,
        tenant_id=tenant,
        number=f"INV-{iid}",
        status=InvoiceStatus(status),
        issue_date=date.fromisoformat(issue),
        due_date=date.fromisoformat(due),
        client_id=client,
        currency=currency,
        # One line without taxes: the invoice's total is its price.
        lines=[InvoiceLine(title="Work", quantity="1", price=total)],
        created_at=utc(f"{issue}T08:00"),
        created_by=creator,
        updated_at=utc(f"{issue}T08:00"),
    )


def _call(spec: tuple[Any, ...], tenant: str) -> Call:
    kid, operator, status, started, duration, participants = spec
    return Call(
        id=kid,
        tenant_id=tenant,
        call_sid=f"CA{kid}",
        status=CallStatus(status),
        operator_id=operator,
        participants=participants,
        started_at=utc(started),
        duration=duration,
        created_at=utc(started),
        updated_at=utc(started),
    )


def _entry(list_name: str, entry_id: str, name: str, order: int, status: str | None = None) -> ListEntry:
    return ListEntry(
        id=entry_id,
        list_name=list_name,
        name=name,
        order=order,
        status=StageStatus(status) if status else None,
        created_at=NOW,
        updated_at=NOW,
    )


@dataclass
class World:
    now: datetime = NOW
    rows: MemoryRows = field(default_factory=MemoryRows)
    directory: MemoryDirectory = field(default_factory=MemoryDirectory)
    lists: MemoryLists = field(default_factory=MemoryLists)
    money: MemoryMoney = field(default_factory=MemoryMoney)
    store: MemoryReportStore = field(default_factory=MemoryReportStore)
    schedules: MemoryScheduleStore = field(default_factory=MemoryScheduleStore)
    files: MemoryReportFiles = field(default_factory=MemoryReportFiles)
    settings: MemoryReportSettings = field(default_factory=MemoryReportSettings)
    queue: MemoryQueue = field(default_factory=MemoryQueue)
    mailer: MemoryMailer = field(default_factory=MemoryMailer)

    def add_tenant(self, tenant: str, *, time_zone: str = ZONE, region: str = "DE", data: bool = True) -> None:
        self.directory.tenants[tenant] = Tenant(
            id=tenant, name=tenant, time_zone=time_zone, phone_region=region, created_at=NOW, updated_at=NOW
        )
        for uid, name in NAMES.items():
            role = Role.ADMIN if uid == ADMIN else Role.USER
            self.directory.users[(tenant, uid)] = User(
                id=uid,
                tenant_id=tenant,
                email=f"{name.split()[0].lower()}@{tenant}.example",
                name=name,
                role=role,
                created_at=NOW,
                updated_at=NOW,
            )
        self.directory.groups[(tenant, "g-sales")] = Group(
            id="g-sales", tenant_id=tenant, name="Sales", member_ids=[ANNA, BEN], created_at=NOW, updated_at=NOW
        )
        self.lists.lists[(tenant, "deal-stages")] = [_entry("deal-stages", i, n, o, st) for i, n, st, o in STAGES]
        self.lists.lists[(tenant, "contact-types")] = [
            _entry("contact-types", i, n, o) for o, (i, n) in enumerate(TYPES.items())
        ]
        self.lists.lists[(tenant, "temperatures")] = [
            _entry("temperatures", i, n, o) for o, (i, n) in enumerate(TEMPERATURES.items())
        ]
        self.lists.lists[(tenant, "task-categories")] = [
            _entry("task-categories", i, n, o) for o, (i, n) in enumerate(CATEGORIES.items())
        ]
        rates = [
            ExchangeRate.model_validate({"from": c, "to": "EUR", "rate": str(r)})
            for c, r in RATES.items()
            if c != "EUR"
        ]
        self.money.settings[tenant] = MoneySettings(
            id="money", currency="EUR", rates=rates, created_at=NOW, updated_at=NOW
        )
        if data:
            self.rows.deal_records[tenant] = [_deal(s, tenant) for s in DEALS]
            self.rows.contact_records[tenant] = [_contact(s, tenant) for s in CONTACTS]
            self.rows.task_records[tenant] = [_task(s, tenant) for s in TASKS]
            self.rows.invoice_records[tenant] = [_invoice(s, tenant) for s in INVOICES]
            self.rows.call_records[tenant] = [_call(s, tenant) for s in CALLS]

    def service(self, *, clock: Any = None) -> Reports:
        from chalicelib.documents.report_workbook import render

        return Reports(
            store=self.store,
            schedules=self.schedules,
            files=self.files,
            settings=self.settings,
            deals=OnlyCurrencies(self.rows, "deals"),
            contacts=self.rows,
            tasks=self.rows,
            invoices=OnlyCurrencies(self.rows, "invoices"),
            calls=self.rows,
            linked=self.rows,
            directory=self.directory,
            lists=self.lists,
            money=self.money,
            queue=self.queue,
            mailer=self.mailer,
            render=render,
            public_url="https://crm.example.com",
            clock=clock or (lambda: self.now),
        )

    def run_jobs(self, service: Reports) -> None:
        from chalicelib.domain.reports.service import ExpireReport, GenerateReport, ScheduleSlot

        while self.queue.messages:
            for message in self.queue.take():
                if message["kind"] == "reports.generate":
                    service.generate(GenerateReport.model_validate(message))
                elif message["kind"] == "reports.slot":
                    service.run_slot(ScheduleSlot.model_validate(message))
                elif message["kind"] == "reports.expire":
                    service.expire(ExpireReport.model_validate(message))


def principal(user_id: str, tenant: str = T) -> Principal:
    return Principal(tenant, user_id, Role.ADMIN if user_id == ADMIN else Role.USER)


def workbook(data: bytes) -> dict[str, list[list[Any]]]:
    """Every sheet's cells as plain values: numbers as Decimal, midnight datetimes as dates, durations in seconds."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), data_only=True)
    return {ws.title: [[plain(v) for v in row] for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def plain(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return value


def same(actual: list[list[Any]], expected: list[list[Any]]) -> None:
    """Cell by cell; numbers compared as decimals, fractions to six places."""
    assert len(actual) == len(expected), (actual, expected)
    for r, (got_row, want_row) in enumerate(zip(actual, expected, strict=True)):
        assert len(got_row) == len(want_row), (r, got_row, want_row)
        for c, (got, want) in enumerate(zip(got_row, want_row, strict=True)):
            if isinstance(want, int) and not isinstance(want, bool):
                want = Decimal(want)
            if isinstance(want, Decimal) and isinstance(got, Decimal):
                assert abs(got - want) < Decimal("0.000001"), (r, c, got, want)
            else:
                assert got == want, (r, c, got, want)
