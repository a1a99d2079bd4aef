"""What the reports service needs from storage (storage/reports.py implements
it on DynamoDB and S3, storage/memory/reports.py in memory)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.reports.models import (
    CallRow,
    ContactRow,
    DealRow,
    InvoiceRow,
    Report,
    ReportSchedule,
    ReportSettings,
    TaskRow,
)
from chalicelib.domain.shared.access import AccessRecord
from chalicelib.domain.shared.pagination import PageRequest, Slice


class ReportStore(Protocol):
    def get(self, tenant_id: str, report_id: str) -> Report | None: ...

    def create(self, report: Report, *, by: str | None) -> Report: ...

    def create_for_slot(self, report: Report, schedule_id: str, slot: str) -> tuple[bool, Report]:
        """Create the report of one schedule slot under a condition on the slot:
        (True, it) the first time, (False, the slot's report) ever after."""
        ...

    def update(self, before: Report, after: Report, *, by: str | None) -> Report: ...

    def delete(self, report: Report, *, by: str | None, at: datetime) -> None: ...

    def list_mine(self, tenant_id: str, user_id: str, page: PageRequest) -> Slice[Report]: ...

    def expired(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        """(tenant id, report id) of reports expiring in [since, until]: the cross-tenant sweep."""
        ...

    def last_sweep(self) -> datetime | None: ...

    def record_sweep(self, until: datetime) -> None: ...


class ScheduleStore(Protocol):
    def get(self, tenant_id: str, schedule_id: str) -> ReportSchedule | None: ...

    def create(self, schedule: ReportSchedule, *, by: str | None) -> ReportSchedule: ...

    def update(self, before: ReportSchedule, after: ReportSchedule, *, by: str | None) -> ReportSchedule: ...

    def delete(self, schedule: ReportSchedule, *, by: str | None, at: datetime) -> None: ...

    def list_mine(self, tenant_id: str, user_id: str, page: PageRequest) -> Slice[ReportSchedule]: ...

    def due(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        """(tenant id, schedule id) of schedules whose next run falls in [since, until], every tenant."""
        ...

    def last_sweep(self) -> datetime | None: ...

    def record_sweep(self, until: datetime) -> None: ...


class ReportFiles(Protocol):
    """The workbooks and the rows parked by a checkpoint, in S3 under the tenant."""

    def put(self, tenant_id: str, report_id: str, data: bytes) -> str: ...

    def download_url(self, key: str, *, filename: str, seconds: int) -> str: ...

    def delete_all(self, tenant_id: str, report_id: str) -> None: ...

    def park(self, tenant_id: str, report_id: str, source: str, data: bytes) -> None: ...

    def parked(self, tenant_id: str, report_id: str, source: str) -> bytes | None: ...


class ReportSettingsStore(Protocol):
    def get(self, tenant_id: str) -> ReportSettings: ...

    def put(self, tenant_id: str, settings: ReportSettings) -> ReportSettings: ...


# ---- the row sources: one per feature a report counts ----


class DealRows(Protocol):
    def deals(self, tenant_id: str) -> Iterator[DealRow]: ...

    def currencies(self, tenant_id: str) -> set[str]:
        """Every currency a deal of the tenant has (the 422 check before any work)."""
        ...


class ContactRows(Protocol):
    def contacts(self, tenant_id: str) -> Iterator[ContactRow]: ...


class TaskRows(Protocol):
    def tasks(self, tenant_id: str) -> Iterator[TaskRow]: ...


class InvoiceRows(Protocol):
    def invoices(self, tenant_id: str) -> Iterator[InvoiceRow]: ...

    def currencies(self, tenant_id: str) -> set[str]: ...


class CallRows(Protocol):
    def calls(self, tenant_id: str) -> Iterator[CallRow]: ...


class LinkedAccess(Protocol):
    """The access records of linked records (a task's contact, deal or case;
    an invoice's client), so the policy decides on them too."""

    def access_records(
        self, tenant_id: str, refs: Iterable[tuple[str, str]]
    ) -> Mapping[tuple[str, str], AccessRecord]: ...


class Directory(Protocol):
    """Users and groups (identity store)."""

    def get_tenant(self, tenant_id: str) -> Any: ...

    def get_user(self, tenant_id: str, user_id: str) -> Any: ...

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[Any]: ...

    def get_groups(self, tenant_id: str, group_ids: Iterable[str]) -> list[Any]: ...


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, text: str) -> None: ...
