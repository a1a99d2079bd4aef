"""The ten report types (REP-1, issue 17): pure functions from rows to tables.

Every function takes a ``Context`` (the period, now, the managers, names,
lists and the money conversion) and ``Rows`` already narrowed to what the
report's creator may read, and returns the tables in sheet order. Money is
converted to the tenant's default currency with the tenant's rates (REP-3;
the service checks every rate exists before it starts), summed exactly and
rounded to the currency's minor unit once, where it is shown.

Definitions (the reference's, made exact):
- a deal's value: fixed bid = amount, otherwise amount x periods; its status
  is its stage's *current* status in the settings (as the pipeline does);
- "won/lost in the period": the actual close date (set by the stage change)
  is in the period; "created in the period": the local day of creation;
- overdue deal: open, expected close date before today; overdue task: open,
  due before now; overdue invoice: billed (not paid, not rejected), due date
  before today; drafts count nowhere;
- a contact counts once under each selected manager it has, and once in the
  total; "with deals": the contact is the main contact or a member of a deal
  its creator may read;
- periods up to a month are counted per day, longer ones per month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from chalicelib.domain.reports.models import (
    CallRow,
    ContactRow,
    DealRow,
    InvoiceRow,
    ReportType,
    Rows,
    TaskRow,
)
from chalicelib.domain.reports.periods import Window, local_date, local_today
from chalicelib.domain.reports.tables import Chart, ChartKind, Column, Kind, Table
from chalicelib.domain.settings.currency import rate_for, round_money

NOBODY = "(nobody)"
NO_ENTRY = "(none)"
TOTAL = "Total"
DUE_SOON_DAYS = 30


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    status: str  # open, won, lost
    order: int


@dataclass(frozen=True)
class Context:
    window: Window
    now: datetime
    currency: str
    rates: Mapping[tuple[str, str], Decimal]
    managers: frozenset[str] | None = None  # None: everyone
    names: Mapping[str, str] = field(default_factory=dict)  # user id -> name
    stages: tuple[Stage, ...] = ()
    contact_types: Mapping[str, str] = field(default_factory=dict)  # id -> name, in the list's order
    temperatures: Mapping[str, str] = field(default_factory=dict)
    task_categories: Mapping[str, str] = field(default_factory=dict)
    # currency -> rate into ``currency``: asked once per currency, not per row.
    _rate_cache: dict[str, Decimal] = field(default_factory=dict, compare=False, repr=False)

    @property
    def time_zone(self) -> str:
        return self.window.time_zone

    @property
    def today(self) -> date:
        return local_today(self.now, self.time_zone)

    def selected(self, user_id: str | None) -> bool:
        return self.managers is None or (user_id is not None and user_id in self.managers)

    def name(self, user_id: str | None) -> str:
        if user_id is None:
            return NOBODY
        return self.names.get(user_id, f"(user {user_id})")

    def money(self, amount: Decimal, currency: str) -> Decimal:
        """``amount`` in the report's currency, not rounded (sums stay exact)."""
        rate = self._rate_cache.get(currency)
        if rate is None:
            rate = rate_for(currency, self.currency, self.rates)
            if rate is None:  # the service checked every rate before it started
                raise LookupError(f"no rate {currency} -> {self.currency}")
            self._rate_cache[currency] = rate
        return amount if rate == 1 else amount * rate

    def shown(self, amount: Decimal) -> Decimal:
        return round_money(amount, self.currency)

    def stage_status(self, deal: DealRow) -> str:
        for stage in self.stages:
            if stage.id == deal.stage_id:
                return stage.status
        return deal.stage_status

    def manager_order(self, user_ids: Iterable[str | None]) -> list[str | None]:
        """Selected managers always (a row of zeros says "nothing"), else those seen; by name."""
        seen = set(user_ids)
        if self.managers is not None:
            seen |= set(self.managers)
        return sorted(seen, key=lambda u: (u is None, self.name(u).casefold(), u or ""))


# ---- shared helpers ----


def _deal_value(ctx: Context, deal: DealRow) -> Decimal:
    return ctx.money(deal.value, deal.currency)


def _weighted(ctx: Context, deal: DealRow) -> Decimal:
    return ctx.money(deal.value * deal.probability / 100, deal.currency)


def _bucket_kind(ctx: Context) -> Kind:
    return Kind.DATE if ctx.window.daily else Kind.MONTH


def _created_in(ctx: Context, moment: datetime) -> bool:
    return ctx.window.has_moment(moment)


def _deals(ctx: Context, rows: Rows) -> list[DealRow]:
    return [d for d in rows.deals if ctx.selected(d.responsible_id)]


def _deal_listing(ctx: Context, deals: Iterable[DealRow]) -> Table:
    stage_names = {s.id: s.name for s in ctx.stages}
    table = Table(
        "Deals counted",
        [
            Column("Title"),
            Column("Responsible"),
            Column("Stage"),
            Column("Status"),
            Column("Created", Kind.DATE),
            Column("Expected close", Kind.DATE),
            Column("Closed", Kind.DATE),
            Column("Probability %", Kind.INT),
            Column(f"Value ({ctx.currency})", Kind.MONEY),
            Column("Deal currency"),
            Column("Deal id"),
        ],
        listing=True,
    )
    table.rows = [
        [
            d.title,
            ctx.name(d.responsible_id),
            stage_names.get(d.stage_id, NO_ENTRY),
            ctx.stage_status(d),
            local_date(d.created_at, ctx.time_zone),
            d.expected_close_date,
            d.actual_close_date,
            d.probability,
            ctx.shown(_deal_value(ctx, d)),
            d.currency,
            d.id,
        ]
        for d in deals
    ]
    return table


# ---- 1. sales_by_manager ----


def sales_by_manager(ctx: Context, rows: Rows) -> list[Table]:
    won = [
        d
        for d in _deals(ctx, rows)
        if ctx.stage_status(d) == "won" and d.actual_close_date is not None and ctx.window.has_day(d.actual_close_date)
    ]
    managers = ctx.manager_order(d.responsible_id for d in won)
    sums: dict[tuple[date, str | None], Decimal] = defaultdict(Decimal)
    for d in won:
        assert d.actual_close_date is not None
        sums[(ctx.window.bucket(d.actual_close_date), d.responsible_id)] += _deal_value(ctx, d)
    buckets = ctx.window.buckets([d.actual_close_date for d in won if d.actual_close_date])
    by_day = Table(
        "Sales per day" if ctx.window.daily else "Sales per month",
        [
            Column("Day" if ctx.window.daily else "Month", _bucket_kind(ctx)),
            *[Column(ctx.name(m), Kind.MONEY) for m in managers],
            Column(TOTAL, Kind.MONEY),
        ],
    )
    for bucket in buckets:
        values = [sums.get((bucket, m), Decimal(0)) for m in managers]
        by_day.rows.append([bucket, *[ctx.shown(v) for v in values], ctx.shown(sum(values, Decimal(0)))])
    by_day.chart = Chart(
        ChartKind.LINE if ctx.window.daily else ChartKind.COLUMN,
        "Won deals' value",
        tuple(range(1, len(managers) + 1)),
        y_title=ctx.currency,
    )
    per_manager = Table(
        "Sales per manager",
        [Column("Manager"), Column("Won deals", Kind.INT), Column(f"Value ({ctx.currency})", Kind.MONEY)],
    )
    for m in managers:
        mine = [d for d in won if d.responsible_id == m]
        per_manager.rows.append(
            [ctx.name(m), len(mine), ctx.shown(sum((_deal_value(ctx, d) for d in mine), Decimal(0)))]
        )
    per_manager.rows.append([TOTAL, len(won), ctx.shown(sum((_deal_value(ctx, d) for d in won), Decimal(0)))])
    per_manager.chart = Chart(ChartKind.PIE, "Share of sales", (2,), skip_last=1)
    return [by_day, per_manager, _deal_listing(ctx, won)]


# ---- 2. sales_forecast ----


def sales_forecast(ctx: Context, rows: Rows) -> list[Table]:
    open_deals = [
        d
        for d in _deals(ctx, rows)
        if ctx.stage_status(d) == "open"
        and d.expected_close_date is not None
        and ctx.window.has_day(d.expected_close_date)
    ]
    per: dict[date, list[DealRow]] = defaultdict(list)
    for d in open_deals:
        assert d.expected_close_date is not None
        per[ctx.window.bucket(d.expected_close_date)].append(d)
    table = Table(
        "Forecast",
        [
            Column("Day" if ctx.window.daily else "Month", _bucket_kind(ctx)),
            Column("Open deals", Kind.INT),
            Column(f"Value ({ctx.currency})", Kind.MONEY),
            Column(f"Weighted ({ctx.currency})", Kind.MONEY),
        ],
    )
    for bucket in ctx.window.buckets([d.expected_close_date for d in open_deals if d.expected_close_date]):
        deals = per.get(bucket, [])
        table.rows.append(
            [
                bucket,
                len(deals),
                ctx.shown(sum((_deal_value(ctx, d) for d in deals), Decimal(0))),
                ctx.shown(sum((_weighted(ctx, d) for d in deals), Decimal(0))),
            ]
        )
    table.rows.append(
        [
            TOTAL,
            len(open_deals),
            ctx.shown(sum((_deal_value(ctx, d) for d in open_deals), Decimal(0))),
            ctx.shown(sum((_weighted(ctx, d) for d in open_deals), Decimal(0))),
        ]
    )
    table.chart = Chart(ChartKind.COLUMN, "Expected sales", (2, 3), y_title=ctx.currency, skip_last=1)
    return [table, _deal_listing(ctx, open_deals)]


# ---- 3. sales_funnel ----


def _stage_sequence(ctx: Context) -> tuple[list[Stage], list[Stage]]:
    """(open stages then won stages, in order; lost stages, in order)."""
    ordered = sorted(ctx.stages, key=lambda s: s.order)
    forward = [s for s in ordered if s.status == "open"] + [s for s in ordered if s.status == "won"]
    return forward, [s for s in ordered if s.status == "lost"]


def sales_funnel(ctx: Context, rows: Rows) -> list[Table]:
    created = [d for d in _deals(ctx, rows) if _created_in(ctx, d.created_at)]
    forward, lost_stages = _stage_sequence(ctx)
    position = {s.id: i for i, s in enumerate(forward)}
    at_stage: dict[str, list[DealRow]] = defaultdict(list)
    for d in created:
        at_stage[d.stage_id].append(d)
    table = Table(
        "Funnel",
        [
            Column("Stage"),
            Column("Status"),
            Column("Deals", Kind.INT),
            Column(f"Value ({ctx.currency})", Kind.MONEY),
            Column("Reached", Kind.INT),
            Column("Conversion", Kind.PERCENT),
        ],
    )
    previous: int | None = None
    for index, stage in enumerate(forward):
        # Reaching a stage: being in it or a later one (lost deals reached only the first).
        reached = len(created) if index == 0 else sum(1 for d in created if position.get(d.stage_id, -1) >= index)
        conversion = None if previous is None else (Decimal(reached) / previous if previous else Decimal(0))
        deals = at_stage.get(stage.id, [])
        value = sum((_deal_value(ctx, d) for d in deals), Decimal(0))
        table.rows.append([stage.name, stage.status, len(deals), ctx.shown(value), reached, conversion])
        previous = reached
    for stage in lost_stages:
        deals = at_stage.get(stage.id, [])
        value = sum((_deal_value(ctx, d) for d in deals), Decimal(0))
        table.rows.append([stage.name, stage.status, len(deals), ctx.shown(value), None, None])
    table.chart = Chart(ChartKind.BAR, "Deals reaching each stage", (4,), skip_last=len(lost_stages))
    won = [d for d in created if ctx.stage_status(d) == "won" and d.actual_close_date is not None]
    lost = [d for d in created if ctx.stage_status(d) == "lost"]
    days = [(d.actual_close_date - local_date(d.created_at, ctx.time_zone)).days for d in won if d.actual_close_date]
    average = (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1")) if days else None
    summary = Table(
        "Funnel summary",
        [Column("Measure"), Column("Value", Kind.DAYS)],
        rows=[
            ["Deals created", Decimal(len(created))],
            ["Won", Decimal(len(won))],
            ["Lost", Decimal(len(lost))],
            ["Average days from creation to won", average],
        ],
    )
    return [table, summary, _deal_listing(ctx, created)]


# ---- 4. contacts_by_manager ----


def contacts_by_manager(ctx: Context, rows: Rows) -> list[Table]:
    def chosen(contact: ContactRow) -> list[str | None]:
        if not contact.managers:
            return [None] if ctx.managers is None else []
        return [m for m in contact.managers if ctx.selected(m)]

    created = [c for c in rows.contacts if _created_in(ctx, c.created_at) and chosen(c)]
    with_deals = {cid for d in rows.deals for cid in d.contact_ids}
    types = list(ctx.contact_types)
    columns = [*types, None]  # None: no type (or a deleted one)
    managers = ctx.manager_order(m for c in created for m in chosen(c))

    def type_of(contact: ContactRow) -> str | None:
        return contact.type_id if contact.type_id in ctx.contact_types else None

    table = Table(
        "Contacts per manager",
        [
            Column("Manager"),
            *[Column(ctx.contact_types[t] if t else "No type", Kind.INT) for t in columns],
            Column(TOTAL, Kind.INT),
            Column("With deals", Kind.INT),
        ],
    )

    def line(label: str, contacts: list[ContactRow]) -> list[object]:
        counts = Counter(type_of(c) for c in contacts)
        return [
            label,
            *[counts.get(t, 0) for t in columns],
            len(contacts),
            sum(1 for c in contacts if c.id in with_deals),
        ]

    for m in managers:
        table.rows.append(line(ctx.name(m), [c for c in created if m in chosen(c)]))
    table.rows.append(line(TOTAL, created))
    table.chart = Chart(
        ChartKind.COLUMN, "New contacts by type", tuple(range(1, len(columns) + 1)), stacked=True, skip_last=1
    )
    listing = Table(
        "Contacts counted",
        [Column("Name"), Column("Type"), Column("Managers"), Column("Created", Kind.DATE), Column("Contact id")],
        listing=True,
    )
    listing.rows = [
        [
            c.name,
            ctx.contact_types.get(c.type_id or "", NO_ENTRY),
            ", ".join(ctx.name(m) for m in c.managers),
            local_date(c.created_at, ctx.time_zone),
            c.id,
        ]
        for c in created
    ]
    return [table, listing]


# ---- 5. tasks_by_manager ----


def _task_counts(ctx: Context, tasks: Iterable[TaskRow]) -> tuple[int, int, int]:
    created = closed = overdue = 0
    for t in tasks:
        created += _created_in(ctx, t.created_at)
        closed += bool(t.closed_at and _created_in(ctx, t.closed_at))
        overdue += t.open and t.due_at < ctx.now and ctx.window.has_moment(t.due_at)
    return created, closed, overdue


def _counted_task(ctx: Context, t: TaskRow) -> bool:
    return (
        _created_in(ctx, t.created_at)
        or bool(t.closed_at and _created_in(ctx, t.closed_at))
        or (t.open and t.due_at < ctx.now and ctx.window.has_moment(t.due_at))
    )


def tasks_by_manager(ctx: Context, rows: Rows) -> list[Table]:
    tasks = [t for t in rows.tasks if ctx.selected(t.responsible_id) and _counted_task(ctx, t)]
    categories = [*ctx.task_categories, None]

    def category_of(task: TaskRow) -> str | None:
        return task.category_id if task.category_id in ctx.task_categories else None

    managers = ctx.manager_order(t.responsible_id for t in tasks)
    detail = Table(
        "Tasks per category",
        [
            Column("Responsible"),
            Column("Category"),
            Column("Created", Kind.INT),
            Column("Closed", Kind.INT),
            Column("Overdue", Kind.INT),
        ],
    )
    totals = Table(
        "Tasks per responsible",
        [Column("Responsible"), Column("Created", Kind.INT), Column("Closed", Kind.INT), Column("Overdue", Kind.INT)],
    )
    for m in managers:
        mine = [t for t in tasks if t.responsible_id == m]
        for category in categories:
            counts = _task_counts(ctx, (t for t in mine if category_of(t) == category))
            if any(counts):
                detail.rows.append([ctx.name(m), ctx.task_categories.get(category or "", NO_ENTRY), *counts])
        totals.rows.append([ctx.name(m), *_task_counts(ctx, mine)])
    totals.rows.append([TOTAL, *_task_counts(ctx, tasks)])
    totals.chart = Chart(ChartKind.COLUMN, "Tasks per responsible", (1, 2, 3), skip_last=1)
    listing = Table(
        "Tasks counted",
        [
            Column("Title"),
            Column("Responsible"),
            Column("Category"),
            Column("Created", Kind.DATE),
            Column("Due", Kind.DATE),
            Column("Closed", Kind.DATE),
            Column("Task id"),
        ],
        listing=True,
    )
    listing.rows = [
        [
            t.title,
            ctx.name(t.responsible_id),
            ctx.task_categories.get(t.category_id or "", NO_ENTRY),
            local_date(t.created_at, ctx.time_zone),
            local_date(t.due_at, ctx.time_zone),
            local_date(t.closed_at, ctx.time_zone) if t.closed_at else None,
            t.id,
        ]
        for t in tasks
    ]
    return [totals, detail, listing]


# ---- 6. deals_by_manager ----

_STATUSES = ("open", "won", "lost")


def deals_by_manager(ctx: Context, rows: Rows) -> list[Table]:
    created = [d for d in _deals(ctx, rows) if _created_in(ctx, d.created_at)]
    managers = ctx.manager_order(d.responsible_id for d in created)
    table = Table(
        "Deals per manager",
        [
            Column("Manager"),
            *[
                c
                for s in _STATUSES
                for c in (Column(s.capitalize(), Kind.INT), Column(f"{s.capitalize()} value", Kind.MONEY))
            ],
            Column(TOTAL, Kind.INT),
            Column("Total value", Kind.MONEY),
        ],
    )

    def line(label: str, deals: list[DealRow]) -> list[object]:
        cells: list[object] = [label]
        for status in _STATUSES:
            mine = [d for d in deals if ctx.stage_status(d) == status]
            cells += [len(mine), ctx.shown(sum((_deal_value(ctx, d) for d in mine), Decimal(0)))]
        return [*cells, len(deals), ctx.shown(sum((_deal_value(ctx, d) for d in deals), Decimal(0)))]

    for m in managers:
        table.rows.append(line(ctx.name(m), [d for d in created if d.responsible_id == m]))
    table.rows.append(line(TOTAL, created))
    table.chart = Chart(ChartKind.COLUMN, "Deals created, by status now", (1, 3, 5), stacked=True, skip_last=1)
    return [table, _deal_listing(ctx, created)]


# ---- 7. invoices_by_manager ----

_INVOICE_MEASURES = ("billed", "paid", "rejected", "overdue")


def _invoice_measure(ctx: Context, invoice: InvoiceRow, measure: str) -> bool:
    if measure == "overdue":
        return invoice.status == "billed" and invoice.due_date < ctx.today
    return invoice.status == measure


def invoices_by_manager(ctx: Context, rows: Rows) -> list[Table]:
    issued = [
        i
        for i in rows.invoices
        if i.status != "draft" and ctx.selected(i.created_by) and ctx.window.has_day(i.issue_date)
    ]
    managers = ctx.manager_order(i.created_by for i in issued)
    table = Table(
        "Invoices per manager",
        [
            Column("Manager"),
            *[
                c
                for m in _INVOICE_MEASURES
                for c in (Column(m.capitalize(), Kind.INT), Column(f"{m.capitalize()} value", Kind.MONEY))
            ],
        ],
    )

    def line(label: str, invoices: list[InvoiceRow]) -> list[object]:
        cells: list[object] = [label]
        for measure in _INVOICE_MEASURES:
            mine = [i for i in invoices if _invoice_measure(ctx, i, measure)]
            cells += [len(mine), ctx.shown(sum((ctx.money(i.total, i.currency) for i in mine), Decimal(0)))]
        return cells

    for m in managers:
        table.rows.append(line(ctx.name(m), [i for i in issued if i.created_by == m]))
    table.rows.append(line(TOTAL, issued))
    table.chart = Chart(ChartKind.COLUMN, "Invoiced value", (2, 4, 6, 8), y_title=ctx.currency, skip_last=1)
    listing = Table(
        "Invoices counted",
        [
            Column("Number"),
            Column("Status"),
            Column("Issued", Kind.DATE),
            Column("Due", Kind.DATE),
            Column("Made by"),
            Column(f"Total ({ctx.currency})", Kind.MONEY),
            Column("Invoice currency"),
            Column("Invoice id"),
        ],
        listing=True,
    )
    listing.rows = [
        [
            i.number,
            i.status,
            i.issue_date,
            i.due_date,
            ctx.name(i.created_by),
            ctx.shown(ctx.money(i.total, i.currency)),
            i.currency,
            i.id,
        ]
        for i in issued
    ]
    return [table, listing]


# ---- 8. calls_by_operator ----

_CALL_STATUSES = ("answered", "missed")


def calls_by_operator(ctx: Context, rows: Rows) -> list[Table]:
    calls = [
        c
        for c in rows.calls
        if c.status in _CALL_STATUSES and ctx.selected(c.operator_id) and _created_in(ctx, c.started_at)
    ]
    operators = ctx.manager_order(c.operator_id for c in calls)
    table = Table(
        "Calls per operator",
        [
            Column("Operator"),
            *[
                col
                for s in _CALL_STATUSES
                for col in (Column(s.capitalize(), Kind.INT), Column(f"{s.capitalize()} duration", Kind.DURATION))
            ],
            Column(TOTAL, Kind.INT),
            Column("Total duration", Kind.DURATION),
        ],
    )

    def line(label: str, mine: list[CallRow]) -> list[object]:
        cells: list[object] = [label]
        for status in _CALL_STATUSES:
            these = [c for c in mine if c.status == status]
            cells += [len(these), timedelta(seconds=sum(c.duration for c in these))]
        return [*cells, len(mine), timedelta(seconds=sum(c.duration for c in mine))]

    for op in operators:
        table.rows.append(line(ctx.name(op), [c for c in calls if c.operator_id == op]))
    table.rows.append(line(TOTAL, calls))
    table.chart = Chart(ChartKind.COLUMN, "Calls per operator", (1, 3), stacked=True, skip_last=1)
    return [table]


# ---- 9. summary_period ----


def summary_period(ctx: Context, rows: Rows) -> list[Table]:
    deals = _deals(ctx, rows)
    created = [d for d in deals if _created_in(ctx, d.created_at)]
    closed = [d for d in deals if ctx.window.has_day(d.actual_close_date)]
    won = [d for d in closed if ctx.stage_status(d) == "won"]
    lost = [d for d in closed if ctx.stage_status(d) == "lost"]
    overdue = [
        d
        for d in deals
        if ctx.stage_status(d) == "open"
        and d.expected_close_date is not None
        and d.expected_close_date < ctx.today
        and ctx.window.has_day(d.expected_close_date)
    ]

    def money_line(label: str, items: list[DealRow]) -> list[object]:
        return [label, len(items), ctx.shown(sum((_deal_value(ctx, d) for d in items), Decimal(0)))]

    deal_table = Table(
        "Deals",
        [Column("Deals"), Column("Count", Kind.INT), Column(f"Value ({ctx.currency})", Kind.MONEY)],
        rows=[
            money_line("New", created),
            money_line("Won", won),
            money_line("Lost", lost),
            money_line("Overdue", overdue),
        ],
    )
    deal_table.chart = Chart(ChartKind.COLUMN, "Deals in the period", (1,))
    invoices = [
        i
        for i in rows.invoices
        if i.status != "draft" and ctx.selected(i.created_by) and ctx.window.has_day(i.issue_date)
    ]
    invoice_table = Table(
        "Invoices",
        [Column("Invoices"), Column("Count", Kind.INT), Column(f"Value ({ctx.currency})", Kind.MONEY)],
    )
    for measure in _INVOICE_MEASURES:
        mine = [i for i in invoices if _invoice_measure(ctx, i, measure)]
        invoice_table.rows.append(
            [
                measure.capitalize(),
                len(mine),
                ctx.shown(sum((ctx.money(i.total, i.currency) for i in mine), Decimal(0))),
            ]
        )
    invoice_table.chart = Chart(ChartKind.COLUMN, "Invoices issued in the period", (2,), y_title=ctx.currency)
    contacts = [
        c
        for c in rows.contacts
        if _created_in(ctx, c.created_at) and (ctx.managers is None or any(ctx.selected(m) for m in c.managers))
    ]
    contact_counts = Counter(c.type_id if c.type_id in ctx.contact_types else None for c in contacts)
    contact_table = Table(
        "Contacts",
        [Column("Contact type"), Column("New contacts", Kind.INT)],
        rows=[[ctx.contact_types[t], contact_counts.get(t, 0)] for t in ctx.contact_types]
        + [["No type", contact_counts.get(None, 0)]],
    )
    contact_table.chart = Chart(ChartKind.PIE, "New contacts by type", (1,))
    tasks = [t for t in rows.tasks if ctx.selected(t.responsible_id)]
    task_table = Table(
        "Tasks",
        [Column("Category"), Column("Created", Kind.INT), Column("Closed", Kind.INT), Column("Overdue", Kind.INT)],
    )
    for category in [*ctx.task_categories, None]:
        in_category = [
            t for t in tasks if (t.category_id if t.category_id in ctx.task_categories else None) == category
        ]
        task_table.rows.append([ctx.task_categories.get(category or "", NO_ENTRY), *_task_counts(ctx, in_category)])
    task_table.chart = Chart(ChartKind.COLUMN, "Tasks by category", (1, 2, 3))
    calls = [
        c
        for c in rows.calls
        if c.status in _CALL_STATUSES and ctx.selected(c.operator_id) and _created_in(ctx, c.started_at)
    ]
    call_table = Table(
        "Calls",
        [Column("Status"), Column("Count", Kind.INT), Column("Duration", Kind.DURATION)],
        rows=[
            [s.capitalize(), len(mine), timedelta(seconds=sum(c.duration for c in mine))]
            for s in _CALL_STATUSES
            for mine in [[c for c in calls if c.status == s]]
        ],
    )
    call_table.chart = Chart(ChartKind.PIE, "Calls by status", (1,))
    counted = {d.id: d for d in [*created, *won, *lost, *overdue]}
    return [deal_table, invoice_table, contact_table, task_table, call_table, _deal_listing(ctx, counted.values())]


# ---- 10. summary_now ----


def summary_now(ctx: Context, rows: Rows) -> list[Table]:
    today = ctx.today
    soon = today + timedelta(days=DUE_SOON_DAYS)
    open_deals = [d for d in _deals(ctx, rows) if ctx.stage_status(d) == "open"]
    overdue = [d for d in open_deals if d.expected_close_date is not None and d.expected_close_date < today]
    due_soon = [d for d in open_deals if d.expected_close_date is not None and today <= d.expected_close_date < soon]

    def money_line(label: str, items: list[DealRow]) -> list[object]:
        return [label, len(items), ctx.shown(sum((_deal_value(ctx, d) for d in items), Decimal(0)))]

    deal_table = Table(
        "Deals now",
        [Column("Deals"), Column("Count", Kind.INT), Column(f"Value ({ctx.currency})", Kind.MONEY)],
        rows=[
            money_line("Open", open_deals),
            money_line("Overdue", overdue),
            money_line(f"Due in {DUE_SOON_DAYS} days", due_soon),
        ],
    )
    deal_table.chart = Chart(ChartKind.COLUMN, "Open deals", (2,), y_title=ctx.currency)
    forward, _ = _stage_sequence(ctx)
    pipeline = Table(
        "Open deals per stage",
        [Column("Stage"), Column("Deals", Kind.INT), Column(f"Value ({ctx.currency})", Kind.MONEY)],
    )
    for stage in (s for s in forward if s.status == "open"):
        pipeline.rows.append(money_line(stage.name, [d for d in open_deals if d.stage_id == stage.id]))
    pipeline.chart = Chart(ChartKind.BAR, "Pipeline", (1,))
    contacts = [c for c in rows.contacts if ctx.managers is None or any(ctx.selected(m) for m in c.managers)]
    types = [*ctx.contact_types, None]
    temperatures = [*ctx.temperatures, None]
    cells = Counter(
        (
            c.type_id if c.type_id in ctx.contact_types else None,
            c.temperature_id if c.temperature_id in ctx.temperatures else None,
        )
        for c in contacts
    )
    contact_table = Table(
        "Contacts now",
        [
            Column("Contact type"),
            *[Column(ctx.temperatures[t] if t else "No temperature", Kind.INT) for t in temperatures],
            Column(TOTAL, Kind.INT),
        ],
    )
    for t in types:
        counts = [cells.get((t, temp), 0) for temp in temperatures]
        contact_table.rows.append([ctx.contact_types[t] if t else "No type", *counts, sum(counts)])
    contact_table.chart = Chart(
        ChartKind.COLUMN, "Contacts by type and temperature", tuple(range(1, len(temperatures) + 1)), stacked=True
    )
    tasks = [t for t in rows.tasks if ctx.selected(t.responsible_id) and t.open]
    task_table = Table(
        "Tasks now",
        [Column("Tasks"), Column("Count", Kind.INT)],
        rows=[["Open", len(tasks)], ["Overdue", sum(1 for t in tasks if t.due_at < ctx.now)]],
    )
    invoices = [i for i in rows.invoices if i.status == "billed" and ctx.selected(i.created_by)]
    late = [i for i in invoices if i.due_date < today]

    def invoice_line(label: str, items: list[InvoiceRow]) -> list[object]:
        return [label, len(items), ctx.shown(sum((ctx.money(i.total, i.currency) for i in items), Decimal(0)))]

    invoice_table = Table(
        "Invoices now",
        [Column("Invoices"), Column("Count", Kind.INT), Column(f"Value ({ctx.currency})", Kind.MONEY)],
        rows=[invoice_line("Billed, unpaid", invoices), invoice_line("Overdue", late)],
    )
    return [deal_table, pipeline, contact_table, task_table, invoice_table, _deal_listing(ctx, open_deals)]


BUILDERS: dict[ReportType, Callable[[Context, Rows], list[Table]]] = {
    ReportType.SALES_BY_MANAGER: sales_by_manager,
    ReportType.SALES_FORECAST: sales_forecast,
    ReportType.SALES_FUNNEL: sales_funnel,
    ReportType.CONTACTS_BY_MANAGER: contacts_by_manager,
    ReportType.TASKS_BY_MANAGER: tasks_by_manager,
    ReportType.DEALS_BY_MANAGER: deals_by_manager,
    ReportType.INVOICES_BY_MANAGER: invoices_by_manager,
    ReportType.CALLS_BY_OPERATOR: calls_by_operator,
    ReportType.SUMMARY_PERIOD: summary_period,
    ReportType.SUMMARY_NOW: summary_now,
}


def build(report_type: ReportType, ctx: Context, rows: Rows) -> list[Table]:
    return BUILDERS[report_type](ctx, rows)
