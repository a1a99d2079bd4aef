"""Tasks (TSK-1..7): create (one, or the same for many contacts), read,
change, close/reopen, delete, list with filters, change log."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.tasks.models import NewTask, NewTasksForContacts, TaskChanges, TaskQuery
    from chalicelib.handlers.records.views import ChangeEntryView
    from chalicelib.handlers.tasks.views import BulkCreated, BulkFailed, BulkTasksView, TaskView


bp = Blueprint(__name__)
TAG = "Tasks"


@route(
    bp,
    "/v1/tasks",
    "GET",
    summary="List and filter tasks",
    tag=TAG,
    query=TaskQuery,
    response=TaskView,
    paged=True,
    description="Sorted by due time. due=today/week use the tenant's time zone (weeks start on "
    "Monday); due=overdue lists open tasks due before now.",
)
def list_tasks(call: Call) -> Page[TaskView]:
    page = call.page_request("tasks.list", **call.query.filters())
    found = container().tasks.list(call.caller, call.query, page, time_zone=call.tenant.time_zone)
    return call.page(found, TaskView.of)


@route(
    bp,
    "/v1/tasks",
    "POST",
    summary="Create a task",
    tag=TAG,
    body=NewTask,
    response=TaskView,
    status=201,
    description="The responsible user defaults to the caller; with notify=true another "
    "responsible user is notified. remind_minutes arms the reminder (TSK-4).",
)
def create_task(call: Call) -> TaskView:
    return TaskView.of(container().tasks.create(call.caller, call.body))


@route(
    bp,
    "/v1/tasks/bulk",
    "POST",
    summary="Create the same task for many contacts",
    tag=TAG,
    body=NewTasksForContacts,
    response=BulkTasksView,
    status=200,
    description="One task per contact the caller can see; the answer reports each contact. Send an "
    "Idempotency-Key to make a retry safe.",
)
def create_tasks_for_contacts(call: Call) -> BulkTasksView:
    report = container().tasks.create_for_contacts(call.caller, call.body)
    return BulkTasksView(
        created=[BulkCreated(**c) for c in report.created], failed=[BulkFailed(**f) for f in report.failed]
    )


@route(bp, "/v1/tasks/{task_id}", "GET", summary="One task", tag=TAG, response=TaskView, errors=(404,))
def get_task(task_id: str, call: Call) -> TaskView:
    return TaskView.of(container().tasks.get(call.caller, task_id))


@route(
    bp,
    "/v1/tasks/{task_id}",
    "PATCH",
    summary="Change, close or reopen a task (only the fields sent)",
    tag=TAG,
    body=TaskChanges,
    response=TaskView,
    if_match=True,
    errors=(404,),
    description="status=closed records closed_at/closed_by, open clears them. A new due time or "
    "remind_minutes re-arms the reminder; closing disarms it.",
)
def update_task(task_id: str, call: Call) -> TaskView:
    return TaskView.of(
        container().tasks.update(call.caller, task_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/tasks/{task_id}",
    "DELETE",
    summary="Delete a task",
    tag=TAG,
    status=204,
    errors=(404, 412),
    description="If-Match is optional.",
)
def delete_task(task_id: str, call: Call) -> None:
    container().tasks.delete(call.caller, task_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/tasks/{task_id}/changes",
    "GET",
    summary="The task's field-level change log, newest first",
    tag=TAG,
    response=ChangeEntryView,
    paged=True,
    errors=(404,),
)
def list_task_changes(task_id: str, call: Call) -> Page[ChangeEntryView]:
    page = call.page_request("changes.list", entity="task", record_id=task_id)
    return call.page(container().tasks.changes(call.caller, task_id, page), ChangeEntryView.of)
