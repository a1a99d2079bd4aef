"""A task's index entries and the partition a task query reads (TSK-7).

Facets (pk ``T#t#TX#<facet>``, sk ``D#<due iso>#<task id>``): all,
resp#<uid>, resp#<uid>#<status>, status#<s>, category#<id>, contact#<id>,
deal#<id>, case#<id>.
"""

from __future__ import annotations

from chalicelib.domain.shared.clock import iso
from chalicelib.domain.tasks.models import Task, TaskQuery
from chalicelib.storage.dynamo import keys
from chalicelib.storage.indexes import Entries, Entry


def facets(task: Task) -> list[str]:
    status = task.status.value
    names = ["all", f"resp#{task.responsible_id}", f"resp#{task.responsible_id}#{status}", f"status#{status}"]
    if task.category_id:
        names.append(f"category#{task.category_id}")
    names += [f"{kind}#{record_id}" for kind, record_id in task.links()]
    return names


def index_entries(task: Task) -> Entries:
    attributes: Entry = {
        "tid": task.id,
        "responsible_id": task.responsible_id,
        "created_by": task.created_by,
        "status": task.status.value,
        "category_id": task.category_id,
        "contact_id": task.contact_id,
        "deal_id": task.deal_id,
        "case_id": task.case_id,
        "due_at": iso(task.due_at),
    }
    sk = keys.task_by_due(task.due_at, task.id)
    entries: Entries = {}
    for facet in facets(task):
        pk = keys.task_facet(task.tenant_id, facet)
        entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes}
    return entries


def plan_facet(query: TaskQuery) -> str:
    """The most selective partition for the filters; the rest filter entries."""
    if query.contact_id:
        return f"contact#{query.contact_id}"
    if query.deal_id:
        return f"deal#{query.deal_id}"
    if query.case_id:
        return f"case#{query.case_id}"
    if query.responsible_id:
        status = (
            query.status.value if query.status else ("open" if query.due and query.due.value == "overdue" else None)
        )
        return f"resp#{query.responsible_id}" + (f"#{status}" if status else "")
    if query.category_id:
        return f"category#{query.category_id}"
    if query.status:
        return f"status#{query.status.value}"
    if query.due and query.due.value == "overdue":
        return "status#open"
    return "all"
