"""Deals (DEA-1..8): CRUD, the stage change, the pipeline and projects.
History, files and the change log of a deal live in handlers/records/history.py and
handlers/records/files.py (generic over parents)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.deals.models import DealChanges, DealQuery, NewDeal, NewProject, StageChange
    from chalicelib.domain.deals.pipeline import Pipeline
    from chalicelib.handlers.deals.views import DealView, ProjectView


bp = Blueprint(__name__)
TAG = "Deals"


@route(bp, "/v1/deals", "GET", summary="List and filter deals", tag=TAG, query=DealQuery, response=DealView, paged=True)
def list_deals(call: Call) -> Page[DealView]:
    page = call.page_request("deals.list", **call.query.filters())
    return call.page(container().deals.list(call.caller, call.query, page), DealView.of)


@route(bp, "/v1/deals", "POST", summary="Create a deal", tag=TAG, body=NewDeal, response=DealView, status=201)
def create_deal(call: Call) -> DealView:
    return DealView.of(container().deals.create(call.caller, call.tenant, call.body))


@route(
    bp,
    "/v1/deals/pipeline",
    "GET",
    summary="Per stage: count, sum and weighted sum in the default currency",
    tag=TAG,
    response=Pipeline,
    errors=(422,),
)
def deal_pipeline(call: Call) -> Pipeline:
    return container().deal_pipeline.get(call.caller)


@route(bp, "/v1/deals/{deal_id}", "GET", summary="One deal", tag=TAG, response=DealView, errors=(404,))
def get_deal(deal_id: str, call: Call) -> DealView:
    return DealView.of(container().deals.get(call.caller, deal_id))


@route(
    bp,
    "/v1/deals/{deal_id}",
    "PATCH",
    summary="Change a deal (only the fields sent; not its stage)",
    tag=TAG,
    body=DealChanges,
    response=DealView,
    if_match=True,
    errors=(403, 404),
)
def update_deal(deal_id: str, call: Call) -> DealView:
    return DealView.of(
        container().deals.update(call.caller, deal_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/deals/{deal_id}",
    "DELETE",
    summary="Delete a deal and what hangs off it",
    tag=TAG,
    status=204,
    errors=(404, 409, 412),
)
def delete_deal(deal_id: str, call: Call) -> None:
    container().deals.delete(call.caller, deal_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/deals/{deal_id}/stage",
    "PUT",
    summary="Change the stage (copies probability, close date)",
    tag=TAG,
    body=StageChange,
    response=DealView,
    if_match=True,
    errors=(404, 412),
)
def change_stage(deal_id: str, call: Call) -> DealView:
    return DealView.of(
        container().deals.change_stage(
            call.caller, call.tenant, deal_id, call.body, expected_version=call.expected_version()
        )
    )


@route(
    bp,
    "/v1/deals/{deal_id}/projects",
    "POST",
    summary="Start a project linked to the deal",
    tag=TAG,
    body=NewProject,
    response=ProjectView,
    status=201,
    errors=(404,),
)
def start_project(deal_id: str, call: Call) -> ProjectView:
    return ProjectView.of(container().deals.start_project(call.caller, deal_id, call.body))


@route(
    bp,
    "/v1/deals/{deal_id}/projects",
    "GET",
    summary="The deal's projects",
    tag=TAG,
    response=ProjectView,
    paged=True,
    errors=(404,),
)
def deal_projects(deal_id: str, call: Call) -> Page[ProjectView]:
    page = call.page_request("deals.projects", deal_id=deal_id)
    return call.page(container().deals.projects(call.caller, deal_id, page), ProjectView.of)
