"""What the task services need from storage (storage/tasks/)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.shared.ports import Entry, Visible

if TYPE_CHECKING:
    from chalicelib.domain.shared.pagination import PageRequest, Slice
    from chalicelib.domain.shared.principal import Principal
    from chalicelib.domain.tasks.models import Task, TaskQuery
    from chalicelib.domain.tasks.reminders import ArmedReminder


class TaskStore(Protocol):
    """Tasks, their index entries, and the reminder each write arms or disarms."""

    def get(self, tenant_id: str, record_id: str) -> Task | None:
        """Strongly consistent: a write is conditioned on what it reads."""
        ...

    def get_many(self, tenant_id: str, record_ids: Iterable[str], *, consistent: bool = False) -> list[Task]:
        """In the order asked; missing ones left out."""
        ...

    def query_tasks(
        self,
        tenant_id: str,
        query: TaskQuery,
        low: datetime | None,
        high: datetime | None,
        page: PageRequest,
        *,
        visible: Visible,
    ) -> Slice[Task]:
        """Tasks due between ``low`` and ``high`` (inclusive; None: open), soonest first."""
        ...

    def entry_page(self, tenant_id: str, facet: str, page: PageRequest) -> Slice[Entry]:
        """Raw index entries of a facet, a page at a time (``tid`` names the task)."""
        ...

    def create_task(self, principal: Principal, task: Task, *, reminder: ArmedReminder | None) -> None: ...

    def update_task(
        self, principal: Principal, before: Task, after: Task, *, reminder: ArmedReminder | None, disarm: bool
    ) -> Task:
        """Conditional on ``before.version`` (PreconditionFailed); ``reminder``
        (re-)arms, ``disarm`` removes the armed one."""
        ...

    def delete_task(self, principal: Principal, task: Task, *, at: datetime) -> None:
        """Conditional on ``task.version``; its reminder goes with it."""
        ...


class ReminderStore(Protocol):
    def get(self, tenant_id: str, task_id: str) -> ArmedReminder | None:
        """The armed, unsent reminder of a task."""
        ...

    def last_sweep(self) -> datetime | None: ...

    def record_sweep(self, until: datetime) -> None: ...

    def due_between(self, since: datetime, until: datetime) -> list[ArmedReminder]:
        """Armed reminders with ``since`` (less a minute) <= remind_at <= ``until``, every tenant."""
        ...

    def mark_sent(self, reminder: ArmedReminder) -> bool:
        """Once: only while armed for this very instant; False otherwise."""
        ...
