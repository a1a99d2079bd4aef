"""Cases (CAS-1..4): CRUD, close and reopen. History, files and the change
log of a case live in handlers/records/history.py and handlers/records/files.py."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.cases.models import CaseChanges, CaseQuery, NewCase
    from chalicelib.handlers.cases.views import CaseView


bp = Blueprint(__name__)
TAG = "Cases"


@route(bp, "/v1/cases", "GET", summary="List and filter cases", tag=TAG, query=CaseQuery, response=CaseView, paged=True)
def list_cases(call: Call) -> Page[CaseView]:
    page = call.page_request("cases.list", **call.query.filters())
    return call.page(container().cases.list(call.caller, call.query, page), CaseView.of)


@route(bp, "/v1/cases", "POST", summary="Create a case", tag=TAG, body=NewCase, response=CaseView, status=201)
def create_case(call: Call) -> CaseView:
    return CaseView.of(container().cases.create(call.caller, call.body))


@route(bp, "/v1/cases/{case_id}", "GET", summary="One case", tag=TAG, response=CaseView, errors=(404,))
def get_case(case_id: str, call: Call) -> CaseView:
    return CaseView.of(container().cases.get(call.caller, case_id))


@route(
    bp,
    "/v1/cases/{case_id}",
    "PATCH",
    summary="Change a case (only the fields sent)",
    tag=TAG,
    body=CaseChanges,
    response=CaseView,
    if_match=True,
    errors=(403, 404),
)
def update_case(case_id: str, call: Call) -> CaseView:
    return CaseView.of(
        container().cases.update(call.caller, case_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/cases/{case_id}",
    "DELETE",
    summary="Delete a case and what hangs off it",
    tag=TAG,
    status=204,
    errors=(404, 409, 412),
)
def delete_case(case_id: str, call: Call) -> None:
    container().cases.delete(call.caller, case_id, expected_version=call.optional_version())


@route(
    bp, "/v1/cases/{case_id}/close", "POST", summary="Close a case", tag=TAG, response=CaseView, errors=(404, 409, 412)
)
def close_case(case_id: str, call: Call) -> CaseView:
    return CaseView.of(
        container().cases.set_closed(call.caller, case_id, True, expected_version=call.optional_version())
    )


@route(
    bp,
    "/v1/cases/{case_id}/reopen",
    "POST",
    summary="Reopen a closed case",
    tag=TAG,
    response=CaseView,
    errors=(404, 409, 412),
)
def reopen_case(case_id: str, call: Call) -> CaseView:
    return CaseView.of(
        container().cases.set_closed(call.caller, case_id, False, expected_version=call.optional_version())
    )
