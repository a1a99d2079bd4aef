"""Use cases on tasks: create (one or for many contacts), read, change,
close/reopen, delete, list, their change log, category replacement, cascades
of deleted parents and the delivery of reminders.

Every read and write goes through the access policy (``TaskAccess``);
hidden tasks are 404. Whether the caller can read the linked contact, deal
or case is asked of ``Parents.resolve`` once per distinct parent and request.
Each write is one transaction: the task, its index entries, its change-log
entry, the category use counters and its reminder (armed, re-armed or
disarmed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.records.changelog import ChangeEntry
from chalicelib.domain.records.parents import Parents
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import CrmError, FieldError, NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.tasks.models import (
    LINK_KINDS,
    NewTask,
    NewTasksForContacts,
    Task,
    TaskChanges,
    TaskQuery,
    TaskStatus,
    due_window,
    entry_access,
    entry_links,
    entry_matches,
)
from chalicelib.domain.tasks.reminders import ArmedReminder, reminder_instant

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import TenantMembers
    from chalicelib.domain.notifications.ports import Notify
    from chalicelib.domain.records.ports import ChangeLogStore
    from chalicelib.domain.settings.ports import EntryReferences
    from chalicelib.domain.shared.ports import Entry
    from chalicelib.domain.tasks.ports import TaskStore

CATEGORIES = "task-categories"
_REQUIRED = ("title", "due_at")


def _system(tenant_id: str) -> Principal:
    return Principal(tenant_id=tenant_id, user_id="system", role=Role.ADMIN)


class LinkReadability:
    """Per request: can the caller read a linked record? Each parent resolved once."""

    def __init__(self, parents: Parents, principal: Principal):
        self._parents = parents
        self._principal = principal
        self._known: dict[tuple[str, str], bool] = {}

    def readable(self, kind: str, record_id: str) -> bool:
        key = (kind, record_id)
        if key not in self._known:
            try:
                self._parents.resolve(self._principal, kind, record_id)
                self._known[key] = True
            except NotFound:
                self._known[key] = False
        return self._known[key]

    def any_readable(self, links: list[tuple[str, str]]) -> bool:
        return any(self.readable(kind, record_id) for kind, record_id in links)


@dataclass
class BulkReport:
    created: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


class Tasks:
    def __init__(
        self,
        store: TaskStore,
        users: TenantMembers,
        notifier: Notify,
        categories: EntryReferences,
        changes: ChangeLogStore,
        parents: Parents,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._parents = parents
        self._users = users
        self._notifier = notifier
        # the task-categories list (SET-10)
        self._categories = categories
        self._changes = changes
        self._clock = clock

    # ---- reading ----

    def get(self, principal: Principal, task_id: str, operation: Operation = Operation.READ) -> Task:
        task = self._store.get(principal.tenant_id, task_id)
        if task is None:
            raise NotFound("The task does not exist.")
        access.require(principal, operation, self._access(principal, task), what="task")
        return task

    def list(self, principal: Principal, query: TaskQuery, page: PageRequest, *, time_zone: str = "UTC") -> Slice[Task]:
        low, high = due_window(query, self._clock(), time_zone)
        links = LinkReadability(self._parents, principal)
        readable = access.readable(principal)

        def visible(entry: Entry) -> bool:
            if not entry_matches(entry, query):
                return False
            responsible, creator = entry_access(entry)
            if principal.is_admin or principal.user_id in (responsible, creator):
                return readable(access.TaskAccess(responsible, creator, False))
            return readable(access.TaskAccess(responsible, creator, links.any_readable(entry_links(entry))))

        return self._store.query_tasks(principal.tenant_id, query, low, high, page, visible=visible)

    def changes(self, principal: Principal, task_id: str, page: PageRequest) -> Slice[ChangeEntry]:
        """The task's field-level change log, newest first; access as the task."""
        task = self.get(principal, task_id)
        return self._changes.list_changes(principal.tenant_id, "task", task.id, page)

    # ---- writing ----

    def create(
        self, principal: Principal, request: NewTask, *, record_id: str | None = None, extra: Sequence[Any] = ()
    ) -> Task:
        """``record_id``/``extra``: as Contacts.create (an import row's derived id and marker)."""
        fields = request.model_dump(exclude_unset=True)
        fields.setdefault("remind_minutes", request.remind_minutes)
        fields.setdefault("notify", request.notify)
        self._check_category(principal, fields.get("category_id"))
        fields["responsible_id"] = self._checked_responsible(
            principal, fields.get("responsible_id") or principal.user_id
        )
        return self._create_checked(principal, fields, record_id=record_id, extra=extra)

    def create_for_contacts(self, principal: Principal, request: NewTasksForContacts) -> BulkReport:
        """TSK-6: one task per contact the caller can see; a per-contact report."""
        fields = request.for_contact("x").model_dump(exclude_unset=True)
        fields.setdefault("remind_minutes", request.remind_minutes)
        fields.setdefault("notify", request.notify)
        self._check_category(principal, fields.get("category_id"))
        fields["responsible_id"] = self._checked_responsible(
            principal, fields.get("responsible_id") or principal.user_id
        )
        report = BulkReport()
        for contact_id in dict.fromkeys(request.contact_ids):
            try:
                task = self._create_checked(principal, {**fields, "contact_id": contact_id}, hidden_as_404=True)
            except CrmError as error:
                report.failed.append({"contact_id": contact_id, "status": _status_of(error), "reason": error.detail})
                continue
            report.created.append({"contact_id": contact_id, "task_id": task.id})
        return report

    def _create_checked(
        self,
        principal: Principal,
        fields: dict[str, Any],
        *,
        hidden_as_404: bool = False,
        record_id: str | None = None,
        extra: Sequence[Any] = (),
    ) -> Task:
        """Category and responsible user already checked."""
        now = self._clock()
        self._check_links(principal, fields, None, hidden_as_404=hidden_as_404)
        task = Task(
            id=record_id or new_id(),
            tenant_id=principal.tenant_id,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
            status=TaskStatus.OPEN,
            **fields,
        )
        self._store.create_task(principal, task, reminder=self._reminder(task), **({"extra": extra} if extra else {}))
        self._notify_responsible(principal, None, task)
        return task

    def update(
        self,
        principal: Principal,
        task_id: str,
        changes: TaskChanges,
        *,
        expected_version: int,
        extra: Sequence[Any] = (),
    ) -> Task:
        before = self.get(principal, task_id, Operation.WRITE)
        require_version(before, expected_version, "task")
        fields = changes.model_dump(exclude_unset=True)
        for name in _REQUIRED + ("remind_minutes", "notify", "status"):
            if name in fields and fields[name] is None:
                raise ValidationFailed(f"{name} cannot be cleared.", errors=[FieldError(name, "may not be null")])
        if "responsible_id" in fields:
            if fields["responsible_id"] is None:
                raise ValidationFailed(
                    "A task has a responsible user.", errors=[FieldError("responsible_id", "may not be null")]
                )
            if fields["responsible_id"] != before.responsible_id:
                access.require(principal, Operation.CHANGE_ACCESS, self._access(principal, before), what="task")
                self._checked_responsible(principal, fields["responsible_id"])
        if "category_id" in fields and fields["category_id"] != before.category_id:
            self._check_category(principal, fields["category_id"])
        self._check_links(principal, fields, before)
        now = self._clock()
        status = fields.pop("status", None)
        after = before.model_copy(update={**fields, "updated_at": now, "updated_by": principal.user_id})
        if status is not None and status != before.status:
            closed = status == TaskStatus.CLOSED
            after = after.model_copy(
                update={
                    "status": status,
                    "closed_at": now if closed else None,
                    "closed_by": principal.user_id if closed else None,
                }
            )
        after = Task.model_validate(after.model_dump())
        old_instant, new_instant = self._instant(before), self._instant(after)
        rearm = new_instant is not None and (new_instant != old_instant or before.status != after.status)
        saved = self._store.update_task(
            principal,
            before,
            after,
            reminder=self._reminder(after) if rearm else None,
            disarm=new_instant is None and old_instant is not None,
            **({"extra": extra} if extra else {}),
        )
        self._notify_responsible(principal, before, saved)
        return saved

    def delete(self, principal: Principal, task_id: str, *, expected_version: int | None) -> Task:
        task = self.get(principal, task_id, Operation.DELETE)
        require_version(task, expected_version, "task")
        self._store.delete_task(principal, task, at=self._clock())
        return task

    # ---- hooks: category replacement, parent cascades ----

    def replace_category(self, principal: Principal, list_name: str, old_id: str, new_id: str) -> int:
        """SET-10: the tasks of a retired category move to its replacement
        (one count moves with each). Safe to rerun: it finds only the tasks
        still pointing at the old entry."""
        moved, after_key = 0, None
        while True:
            found = self._store.entry_page(
                principal.tenant_id, f"category#{old_id}", PageRequest(limit=100, after=after_key)
            )
            for task in self._store.get_many(principal.tenant_id, [e["tid"] for e in found.items], consistent=True):
                if task.category_id != old_id:
                    continue
                after = task.model_copy(
                    update={"category_id": new_id, "updated_at": self._clock(), "updated_by": principal.user_id}
                )
                self._store.update_task(principal, task, after, reminder=None, disarm=False)
                moved += 1
            if found.after is None:
                return moved
            after_key = found.after

    def move_parent(self, tenant_id: str, kind: str, from_id: str, into_id: str) -> int:
        """A merge: the tasks of the merged record follow it to the survivor. Idempotent."""
        system = _system(tenant_id)
        moved, after_key = 0, None
        while True:
            found = self._store.entry_page(tenant_id, f"{kind}#{from_id}", PageRequest(limit=100, after=after_key))
            for task in self._store.get_many(tenant_id, [e["tid"] for e in found.items], consistent=True):
                if getattr(task, f"{kind}_id") != from_id:
                    continue
                after = task.model_copy(
                    update={f"{kind}_id": into_id, "updated_at": self._clock(), "updated_by": "system"}
                )
                self._store.update_task(system, task, after, reminder=None, disarm=False)
                moved += 1
            if found.after is None:
                return moved
            after_key = found.after

    def on_parent_deleted(self, tenant_id: str, kind: str, record_id: str) -> int:
        """A deleted contact takes its tasks with it (SPEC "Defaults"); tasks of
        a deleted deal or case lose the link. Idempotent."""
        system = _system(tenant_id)
        done = 0
        after_key = None
        while True:
            found = self._store.entry_page(tenant_id, f"{kind}#{record_id}", PageRequest(limit=100, after=after_key))
            for task in self._store.get_many(tenant_id, [e["tid"] for e in found.items], consistent=True):
                if getattr(task, f"{kind}_id") != record_id:
                    continue
                if kind == "contact":
                    self._store.delete_task(system, task, at=self._clock())
                else:
                    after = task.model_copy(
                        update={f"{kind}_id": None, "updated_at": self._clock(), "updated_by": "system"}
                    )
                    self._store.update_task(system, task, after, reminder=None, disarm=False)
                done += 1
            if found.after is None:
                return done
            after_key = found.after

    # ---- reminders (TSK-4) ----

    def deliver_reminder(self, reminder: ArmedReminder) -> None:
        """Notify the responsible user, once per (task, instant)."""
        from zoneinfo import ZoneInfo

        task = self._store.get(reminder.tenant_id, reminder.task_id)
        if task is None or task.status != TaskStatus.OPEN:
            return
        tenant = self._users.get_tenant(reminder.tenant_id)
        zone_name = (tenant.time_zone if tenant else None) or "UTC"
        local = task.due_at.astimezone(ZoneInfo(zone_name))
        parts = [task.title]
        if task.contact_id:
            contact = self._parent_title(reminder.tenant_id, "contact", task.contact_id)
            if contact:
                parts.append(contact)
        subject = f"Reminder: {' — '.join(parts)} — due {local:%d.%m.%Y %H:%M} ({zone_name})"
        self._notifier.notify(
            reminder.tenant_id,
            [task.responsible_id],
            "task.reminder",
            subject,
            f"/v1/tasks/{task.id}",
            once_key=f"task-reminder:{task.id}",
            once_at=reminder.remind_at,
        )

    # ---- rules ----

    def _access(self, principal: Principal, task: Task) -> access.TaskAccess:
        if principal.is_admin or principal.user_id in (task.responsible_id, task.created_by):
            return task.access_record(False)
        return task.access_record(LinkReadability(self._parents, principal).any_readable(task.links()))

    @staticmethod
    def _instant(task: Task) -> datetime | None:
        if task.status != TaskStatus.OPEN:
            return None
        return reminder_instant(task.due_at, task.remind_minutes)

    def _reminder(self, task: Task) -> ArmedReminder | None:
        instant = self._instant(task)
        return ArmedReminder(task.tenant_id, task.id, instant) if instant is not None else None

    def _check_category(self, principal: Principal, category_id: str | None) -> None:
        if category_id:
            self._categories.reference(principal, CATEGORIES, category_id, field_name="category_id")

    def _checked_responsible(self, principal: Principal, user_id: str) -> str:
        if user_id == principal.user_id and principal.user_id != "system":
            return user_id
        found = self._users.get_user(principal.tenant_id, user_id)
        if found is None or found.status == UserStatus.DEACTIVATED:
            raise ValidationFailed(
                "The responsible user must be an active user of this tenant.",
                errors=[FieldError("responsible_id", f"unknown or inactive user {user_id}")],
            )
        return user_id

    def _check_links(
        self, principal: Principal, fields: dict[str, Any], before: Task | None, *, hidden_as_404: bool = False
    ) -> None:
        """A newly linked contact, deal or case must exist and be readable."""
        for kind in LINK_KINDS:
            name = f"{kind}_id"
            value = fields.get(name)
            if value and (before is None or getattr(before, name) != value):
                try:
                    self._parents.resolve(principal, kind, value)
                except NotFound:
                    if hidden_as_404:
                        raise
                    raise ValidationFailed(
                        f"There is no such {kind}.", errors=[FieldError(name, f"no such {kind}")]
                    ) from None

    def _parent_title(self, tenant_id: str, kind: str, record_id: str) -> str | None:
        try:
            return self._parents.resolve(_system(tenant_id), kind, record_id).title
        except NotFound:
            return None

    def _notify_responsible(self, principal: Principal, before: Task | None, after: Task) -> None:
        if not after.notify or after.responsible_id == principal.user_id:
            return
        if before is not None and before.responsible_id == after.responsible_id:
            return
        self._notifier.notify(
            principal.tenant_id,
            [after.responsible_id],
            "task.assigned",
            f"New task for you: {after.title}",
            f"/v1/tasks/{after.id}",
        )


def _status_of(error: CrmError) -> int:
    from chalicelib.domain.shared import errors as e

    for cls, status in (
        (e.NotFound, 404),
        (e.Forbidden, 403),
        (e.Conflict, 409),
        (e.ValidationFailed, 422),
        (e.PreconditionFailed, 412),
        (e.TooManyRequests, 429),
    ):
        if isinstance(error, cls):
            return status
    return 400
