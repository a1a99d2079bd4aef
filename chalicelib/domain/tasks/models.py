"""Tasks (TSK-1..7): title, category (SET-10), description, a linked contact
and optionally a deal or a case, a due time, a reminder, a responsible user
and a status.

Access is decided by domain/shared/access.py only (``TaskAccess``): admins, the
responsible user and the creator read, change and delete a task; whoever may
read its linked contact, deal or case reads it. Hidden tasks answer 404.

Times: ``due_at`` is taken with its offset and stored in UTC. The "today"
and "this week" filters are computed in the tenant's time zone, weeks start
on Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from chalicelib.domain.shared.access import TaskAccess
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.records import Record
from chalicelib.domain.tasks.reminders import DEFAULT_REMINDER, REMINDER_CHOICES

Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]
RecordId = Annotated[str, Field(min_length=1, max_length=40)]
RemindMinutes = Literal[0, 5, 15, 30, 60, 120, 1440]
MAX_BULK = 500
LINK_KINDS = ("contact", "deal", "case")


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DueFilter(StrEnum):
    OVERDUE = "overdue"
    TODAY = "today"
    WEEK = "week"


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


class _TaskFields(Model):
    model_config = ConfigDict(extra="forbid")

    title: Title
    category_id: RecordId | None = Field(default=None, description="task-categories entry")
    description: Description | None = None
    deal_id: RecordId | None = Field(default=None, description="Optional linked deal")
    case_id: RecordId | None = Field(default=None, description="Optional linked case")
    due_at: AwareDatetime = Field(
        description="ISO 8601 date-time with offset; stored in UTC", examples=["2026-12-01T15:00:00+01:00"]
    )
    remind_minutes: RemindMinutes = Field(
        default=DEFAULT_REMINDER, description=f"Minutes before due_at; one of {REMINDER_CHOICES}, 0: never"
    )
    responsible_id: RecordId | None = Field(default=None, description="A user id; default: the creator")
    notify: bool = Field(default=False, description="Notify the responsible user about the task")

    @field_validator("due_at")
    @classmethod
    def due_in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class NewTask(_TaskFields):
    contact_id: RecordId | None = Field(default=None, description="The linked contact")


class NewTasksForContacts(_TaskFields):
    """POST /v1/tasks/bulk: the same task for each contact (TSK-6)."""

    contact_ids: list[RecordId] = Field(
        min_length=1, max_length=MAX_BULK, description="One task per contact the caller can see"
    )

    def for_contact(self, contact_id: str) -> NewTask:
        fields = self.model_dump(exclude={"contact_ids"}, exclude_unset=True)
        return NewTask(**fields, contact_id=contact_id)


class TaskChanges(Model):
    """PATCH: only the fields sent change; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    category_id: RecordId | None = None
    description: Description | None = None
    contact_id: RecordId | None = None
    deal_id: RecordId | None = None
    case_id: RecordId | None = None
    due_at: AwareDatetime | None = None
    remind_minutes: RemindMinutes | None = None
    responsible_id: RecordId | None = None
    notify: bool | None = None
    status: TaskStatus | None = None

    @field_validator("due_at")
    @classmethod
    def due_in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class Task(Record):
    tenant_id: str
    title: str
    category_id: str | None = None
    description: str | None = None
    contact_id: str | None = None
    deal_id: str | None = None
    case_id: str | None = None
    due_at: datetime
    remind_minutes: int = DEFAULT_REMINDER
    responsible_id: str
    notify: bool = False
    status: TaskStatus = TaskStatus.OPEN
    closed_at: datetime | None = None
    closed_by: str | None = None

    def overdue(self, now: datetime) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at < now

    def links(self) -> list[tuple[str, str]]:
        return [(kind, getattr(self, f"{kind}_id")) for kind in LINK_KINDS if getattr(self, f"{kind}_id")]

    def access_record(self, linked_readable: bool) -> TaskAccess:
        return TaskAccess(
            responsible_id=self.responsible_id, created_by=self.created_by or "", linked_readable=linked_readable
        )


class TaskQuery(Model):
    """GET /v1/tasks filters (TSK-7)."""

    model_config = ConfigDict(extra="forbid")

    responsible_id: RecordId | None = None
    status: TaskStatus | None = None
    due: DueFilter | None = Field(
        default=None,
        description="overdue (open, due before now), today or week (Monday-start) in the tenant's time zone",
    )
    due_from: AwareDatetime | None = Field(default=None, description="due_at at or after")
    due_to: AwareDatetime | None = Field(default=None, description="due_at at or before")
    category_id: RecordId | None = None
    contact_id: RecordId | None = None
    deal_id: RecordId | None = None
    case_id: RecordId | None = None

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def due_window(query: TaskQuery, now: datetime, time_zone: str) -> tuple[datetime | None, datetime | None]:
    """The due_at bounds of a query in UTC, both inclusive (None: open).
    ``due`` and due_from/due_to intersect; a local day runs from one local
    midnight to the next (23 or 25 hours on a daylight-saving change)."""
    from zoneinfo import ZoneInfo

    low, high = _utc(query.due_from), _utc(query.due_to)
    if query.due is not None:
        zone = ZoneInfo(time_zone or "UTC")
        local_today = now.astimezone(zone).date()
        if query.due == DueFilter.OVERDUE:
            start, end = None, now - timedelta(microseconds=1000)
        else:
            first = local_today if query.due == DueFilter.TODAY else local_today - timedelta(days=local_today.weekday())
            last = first + timedelta(days=1 if query.due == DueFilter.TODAY else 7)
            start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
            end = datetime.combine(last, time(0), tzinfo=zone).astimezone(UTC) - timedelta(microseconds=1000)
        low = start if low is None or (start is not None and start > low) else low
        high = end if high is None or end < high else high
    return low, high


def entry_matches(entry: dict[str, Any], query: TaskQuery) -> bool:
    """Does an index entry pass the filters its partition did not apply?"""
    for name in ("responsible_id", "category_id", "contact_id", "deal_id", "case_id"):
        wanted = getattr(query, name)
        if wanted and entry.get(name) != wanted:
            return False
    if query.status and entry.get("status") != query.status.value:
        return False
    if query.due == DueFilter.OVERDUE and entry.get("status") != TaskStatus.OPEN.value:
        return False
    return True


def entry_access(entry: dict[str, Any]) -> tuple[str, str]:
    return entry.get("responsible_id") or "", entry.get("created_by") or ""


def entry_links(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(kind, entry[f"{kind}_id"]) for kind in LINK_KINDS if entry.get(f"{kind}_id")]
