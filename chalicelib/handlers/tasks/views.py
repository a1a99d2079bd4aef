"""The pydantic models of the tasks API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.shared.clock import utc_now
from chalicelib.domain.shared.model import Model
from chalicelib.domain.tasks.models import Task


class TaskView(Model):
    id: str
    version: int
    title: str
    category_id: str | None
    description: str | None
    contact_id: str | None
    deal_id: str | None
    case_id: str | None
    due_at: datetime
    remind_minutes: int
    responsible_id: str
    notify: bool
    status: str
    closed_at: datetime | None
    closed_by: str | None
    overdue: bool
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, task: Task) -> "TaskView":
        return cls(**task.model_dump(exclude={"tenant_id"}), overdue=task.overdue(utc_now()))


class BulkCreated(Model):
    contact_id: str
    task_id: str


class BulkFailed(Model):
    contact_id: str
    status: int
    reason: str


class BulkTasksView(Model):
    created: list[BulkCreated]
    failed: list[BulkFailed]
