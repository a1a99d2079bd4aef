"""History of contacts, deals and cases (HIS-1), and their change logs.

The same endpoints exist under each parent collection; the path parameter
names match the parents' own routes (``/v1/contacts/{contact_id}``), as API
Gateway requires of siblings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.records.history import HistoryChanges, HistoryFilter, NewHistoryEvent
    from chalicelib.handlers.records.views import ChangeEntryView, ChangesQuery, HistoryEventView


bp = Blueprint(__name__)
HISTORY, CHANGES = "History", "Change log"

# parent kind -> (collection in the path, its id parameter)
PARENT_ROUTES: dict[str, tuple[str, str]] = {
    "contact": ("contacts", "contact_id"),
    "deal": ("deals", "deal_id"),
    "case": ("cases", "case_id"),
}


def _register(kind: str, collection: str, param: str) -> None:
    base = f"/v1/{collection}/{{{param}}}"

    def named(view: Callable[..., Any], name: str) -> Callable[..., Any]:
        view.__name__ = view.__qualname__ = f"{name}_{kind}"
        return view

    def list_history(call: Call, **ids: str) -> Page[HistoryEventView]:
        parent_id = ids[param]
        page = call.page_request("history.list", parent_kind=kind, parent_id=parent_id, **call.query.cursor_scope())
        return call.page(container().history.list(call.caller, kind, parent_id, call.query, page), HistoryEventView.of)

    def add_history(call: Call, **ids: str) -> HistoryEventView:
        return HistoryEventView.of(container().history.create(call.caller, kind, ids[param], call.body))

    def list_changes(call: Call, **ids: str) -> Page[ChangeEntryView]:
        page = call.page_request("changes.list", entity=kind, record_id=ids[param])
        return call.page(container().changelog.for_record(call.caller, kind, ids[param], page), ChangeEntryView.of)

    route(
        bp,
        f"{base}/history",
        "GET",
        summary=f"The {kind}'s history, newest first",
        tag=HISTORY,
        query=HistoryFilter,
        response=HistoryEventView,
        paged=True,
        errors=(404,),
        description="Filters: category_id, author_id, kind, and from/to bounding happened_at (inclusive).",
    )(named(list_history, "list_history"))
    route(
        bp,
        f"{base}/history",
        "POST",
        summary=f"Add a note, call or e-mail to the {kind}'s history",
        tag=HISTORY,
        body=NewHistoryEvent,
        response=HistoryEventView,
        status=201,
        errors=(404,),
        description="Needs read access to the record. file_ids name uploaded files of the same record "
        "(POST /v1/files); others answer 422.",
    )(named(add_history, "add_history"))
    route(
        bp,
        f"{base}/changes",
        "GET",
        summary=f"The {kind}'s field-level change log, newest first",
        tag=CHANGES,
        response=ChangeEntryView,
        paged=True,
        errors=(404,),
        description="Readable by whoever may read the record. The log of a deleted record: GET /v1/changes (admins).",
    )(named(list_changes, "list_changes"))


for _kind, (_collection, _param) in PARENT_ROUTES.items():
    _register(_kind, _collection, _param)


@route(
    bp,
    "/v1/history/{event_id}",
    "GET",
    summary="One history event",
    tag=HISTORY,
    response=HistoryEventView,
    errors=(404,),
)
def get_history_event(event_id: str, call: Call) -> HistoryEventView:
    return HistoryEventView.of(container().history.get(call.caller, event_id))


@route(
    bp,
    "/v1/history/{event_id}",
    "PATCH",
    summary="Change a history event (its author or an admin)",
    tag=HISTORY,
    body=HistoryChanges,
    response=HistoryEventView,
    if_match=True,
    errors=(404, 409),
    description="System events cannot be changed (409).",
)
def update_history_event(event_id: str, call: Call) -> HistoryEventView:
    return HistoryEventView.of(
        container().history.update(call.caller, event_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/history/{event_id}",
    "DELETE",
    summary="Delete a history event (its author or an admin)",
    tag=HISTORY,
    status=204,
    errors=(404, 412),
    description="If-Match is optional. Attached files stay with the record.",
)
def delete_history_event(event_id: str, call: Call) -> None:
    container().history.delete(call.caller, event_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/changes",
    "GET",
    summary="The change log of any record, deleted ones included (admins)",
    tag=CHANGES,
    query=ChangesQuery,
    response=ChangeEntryView,
    paged=True,
)
def list_any_changes(call: Call) -> Page[ChangeEntryView]:
    page = call.page_request("changes.any", entity=call.query.entity, record_id=call.query.record_id)
    return call.page(
        container().changelog.for_any_record(call.caller, call.query.entity, call.query.record_id, page),
        ChangeEntryView.of,
    )
