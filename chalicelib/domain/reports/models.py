"""Reports (REP-1..4): what a client asks for, what is stored, and the rows
the ten report types count.

- A period is a preset (API.md's list) or a custom range of dates, both in
  the tenant's time zone (domain/reports/periods.py resolves them).
- Managers are users, groups (their members at generation time) or, with
  neither, everyone.
- Rows are the few fields of a deal, contact, task, invoice or call a report
  needs, with the access record the policy (domain/shared/access.py) decides
  on: the report's creator only counts what they may read (REP-4, issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from chalicelib.domain.shared.access import (
    CallAccess,
    ContactAccess,
    ListAccess,
)
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.records import Record

MAX_MANAGERS = 200
MAX_GROUPS = 50
MAX_RANGE_DAYS = 366 * 10
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650

Id = Annotated[str, Field(min_length=1, max_length=40)]


class ReportType(StrEnum):
    SALES_BY_MANAGER = "sales_by_manager"
    SALES_FORECAST = "sales_forecast"
    SALES_FUNNEL = "sales_funnel"
    CONTACTS_BY_MANAGER = "contacts_by_manager"
    TASKS_BY_MANAGER = "tasks_by_manager"
    DEALS_BY_MANAGER = "deals_by_manager"
    INVOICES_BY_MANAGER = "invoices_by_manager"
    CALLS_BY_OPERATOR = "calls_by_operator"
    SUMMARY_PERIOD = "summary_period"
    SUMMARY_NOW = "summary_now"


class Source(StrEnum):
    """What a report reads; each is one checkpoint of a long generation."""

    DEALS = "deals"
    CONTACTS = "contacts"
    TASKS = "tasks"
    INVOICES = "invoices"
    CALLS = "calls"


SOURCES: dict[ReportType, tuple[Source, ...]] = {
    ReportType.SALES_BY_MANAGER: (Source.DEALS,),
    ReportType.SALES_FORECAST: (Source.DEALS,),
    ReportType.SALES_FUNNEL: (Source.DEALS,),
    ReportType.CONTACTS_BY_MANAGER: (Source.CONTACTS, Source.DEALS),
    ReportType.TASKS_BY_MANAGER: (Source.TASKS,),
    ReportType.DEALS_BY_MANAGER: (Source.DEALS,),
    ReportType.INVOICES_BY_MANAGER: (Source.INVOICES,),
    ReportType.CALLS_BY_OPERATOR: (Source.CALLS,),
    ReportType.SUMMARY_PERIOD: (Source.DEALS, Source.CONTACTS, Source.TASKS, Source.INVOICES, Source.CALLS),
    ReportType.SUMMARY_NOW: (Source.DEALS, Source.CONTACTS, Source.TASKS, Source.INVOICES),
}


class PeriodPreset(StrEnum):
    TODAY = "today"
    YESTERDAY = "yesterday"
    TOMORROW = "tomorrow"
    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    NEXT_WEEK = "next_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    NEXT_MONTH = "next_month"
    THIS_QUARTER = "this_quarter"
    LAST_QUARTER = "last_quarter"
    NEXT_QUARTER = "next_quarter"
    THIS_YEAR = "this_year"
    LAST_YEAR = "last_year"
    NEXT_YEAR = "next_year"
    ALL = "all"


class Period(Model):
    """``{"preset": "last_month"}`` or ``{"from": "2026-01-01", "to": "2026-03-31"}`` (inclusive dates)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    preset: PeriodPreset | None = None
    from_: date | None = Field(default=None, alias="from", description="First day (inclusive), tenant time zone")
    to: date | None = Field(default=None, description="Last day (inclusive), tenant time zone")

    @model_validator(mode="after")
    def _one_kind(self) -> "Period":
        custom = self.from_ is not None or self.to is not None
        if self.preset is not None and custom:
            raise ValueError("give either a preset or from/to, not both")
        if self.preset is None:
            if self.from_ is None or self.to is None:
                raise ValueError("give a preset, or both from and to")
            if self.to < self.from_:
                raise ValueError("to is before from")
            if (self.to - self.from_).days >= MAX_RANGE_DAYS:
                raise ValueError(f"a custom range spans at most {MAX_RANGE_DAYS} days")
        return self


class _ReportParameters(Model):
    model_config = ConfigDict(extra="forbid")

    type: ReportType
    period: Period = Field(default_factory=lambda: Period(preset=PeriodPreset.THIS_MONTH))
    manager_ids: list[Id] = Field(default_factory=list, max_length=MAX_MANAGERS, description="Users; none: everyone")
    group_ids: list[Id] = Field(default_factory=list, max_length=MAX_GROUPS, description="Groups (their members)")


class NewReport(_ReportParameters):
    """POST /v1/reports."""


class Every(StrEnum):
    WEEK = "week"
    MONTH = "month"


class NewReportSchedule(_ReportParameters):
    """POST /v1/report-schedules: the report made once a week (Monday) or a
    month (the 1st), early in the tenant's day, and mailed to its creator."""

    every: Every


class ReportSettingsUpdate(Model):
    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS, description="Reports are deleted this long after made")


class ReportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Report(Record):
    tenant_id: str
    type: ReportType
    period: Period
    manager_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    status: ReportStatus = ReportStatus.QUEUED
    percent: int = 0
    time_zone: str = "UTC"
    currency: str | None = None
    # The resolved period: first day and the day after the last (None: unbounded).
    range_from: date | None = None
    range_until: date | None = None
    generated_at: datetime | None = None
    file_key: str | None = None
    file_size: int | None = None
    error: str | None = None
    expires_at: datetime | None = None
    schedule_id: str | None = None
    slot: str | None = None
    # Checkpoint: the sources whose rows are loaded and parked beside the file.
    loaded: list[Source] = Field(default_factory=list)

    def parameters(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "period": self.period.model_dump(mode="json", exclude_none=True),
            "manager_ids": self.manager_ids,
            "group_ids": self.group_ids,
        }


class ReportSchedule(Record):
    tenant_id: str
    type: ReportType
    period: Period
    manager_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    every: Every
    next_run_at: datetime
    last_slot: str | None = None


class ReportSettings(Model):
    retention_days: int = DEFAULT_RETENTION_DAYS


# ---- rows: what the report types count ----


@dataclass(frozen=True)
class DealRow:
    id: str
    title: str
    responsible_id: str
    stage_id: str
    stage_status: str  # open, won, lost: as at the deal's last stage write (the list's current one wins)
    created_at: datetime
    expected_close_date: date | None
    actual_close_date: date | None
    value: Decimal  # in the deal's currency (fixed: amount; else amount x periods)
    currency: str
    probability: int
    contact_ids: tuple[str, ...]
    access: ListAccess


@dataclass(frozen=True)
class ContactRow:
    id: str
    name: str
    type_id: str | None
    temperature_id: str | None
    managers: tuple[str, ...]
    created_at: datetime
    access: ContactAccess


@dataclass(frozen=True)
class TaskRow:
    id: str
    title: str
    category_id: str | None
    responsible_id: str
    created_by: str
    created_at: datetime
    due_at: datetime
    closed_at: datetime | None
    open: bool
    links: tuple[tuple[str, str], ...]  # (contact|deal|case, id): readable links make a task readable


@dataclass(frozen=True)
class InvoiceRow:
    id: str
    number: str
    status: str  # draft, billed, paid, rejected
    issue_date: date
    due_date: date
    created_by: str
    client_id: str
    total: Decimal  # in the invoice's currency
    currency: str


@dataclass(frozen=True)
class CallRow:
    id: str
    operator_id: str | None
    status: str  # answered, missed, ringing
    direction: str | None
    started_at: datetime
    duration: int  # seconds
    access: CallAccess


Row = DealRow | ContactRow | TaskRow | InvoiceRow | CallRow


@dataclass
class Rows:
    """What one report counts, already narrowed to what its creator may read."""

    deals: list[DealRow] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    invoices: list[InvoiceRow] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
