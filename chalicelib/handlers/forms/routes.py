"""Web forms (WEB-1, WEB-2, SET-14): owners and admins make them and take
their snippet; domain/forms/service.py holds the rules."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.forms.models import NewWebForm, WebFormChanges
    from chalicelib.handlers.forms.answers import action_url
    from chalicelib.handlers.forms.views import SnippetQuery, WebFormView


bp = Blueprint(__name__)
TAG = "Web forms"


@route(bp, "/v1/web-forms", "GET", summary="The tenant's web forms", tag=TAG, response=WebFormView, paged=True)
def list_forms(call: Call) -> Page[WebFormView]:
    page = call.page_request("web_forms.list")
    return call.page(container().web_forms.list(call.caller, page), lambda f: WebFormView.of(f, call))


@route(
    bp,
    "/v1/web-forms",
    "POST",
    summary="Create a web form",
    tag=TAG,
    body=NewWebForm,
    response=WebFormView,
    status=201,
    errors=(403,),
)
def create_form(call: Call) -> WebFormView:
    return WebFormView.of(container().web_forms.create(call.caller, call.body), call)


@route(bp, "/v1/web-forms/{form_id}", "GET", summary="One web form", tag=TAG, response=WebFormView, errors=(404,))
def get_form(form_id: str, call: Call) -> WebFormView:
    return WebFormView.of(container().web_forms.get(call.caller, form_id), call)


@route(
    bp,
    "/v1/web-forms/{form_id}",
    "PATCH",
    summary="Change a web form (only the fields sent)",
    tag=TAG,
    body=WebFormChanges,
    response=WebFormView,
    if_match=True,
    errors=(404,),
)
def update_form(form_id: str, call: Call) -> WebFormView:
    changed = container().web_forms.update(call.caller, form_id, call.body, expected_version=call.expected_version())
    return WebFormView.of(changed, call)


@route(bp, "/v1/web-forms/{form_id}", "DELETE", summary="Delete a web form", tag=TAG, status=204, errors=(404, 412))
def delete_form(form_id: str, call: Call) -> None:
    container().web_forms.delete(call.caller, form_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/web-forms/{form_id}/rotate-key",
    "POST",
    summary="Give the form a new public key (the old one stops working)",
    tag=TAG,
    response=WebFormView,
    if_match=True,
    errors=(404,),
)
def rotate_key(form_id: str, call: Call) -> WebFormView:
    rotated = container().web_forms.rotate_key(call.caller, form_id, expected_version=call.expected_version())
    return WebFormView.of(rotated, call)


@route(
    bp,
    "/v1/web-forms/{form_id}/snippet",
    "GET",
    summary="The form as HTML to paste into a website",
    tag=TAG,
    query=SnippetQuery,
    produces="text/html",
    errors=(404,),
    description="`variant=html` (default): a plain form, no script. `variant=js`: the same form plus one "
    "script from this API that posts it as JSON and shows the answer in place.",
)
def snippet(form_id: str, call: Call) -> Response:
    from chalicelib.documents.web_forms import render_snippet

    layout = container().web_forms.layout(call.caller, form_id)
    html = render_snippet(
        layout.form,
        layout.custom_fields,
        action=action_url(call, layout.form.key),
        stamp=layout.stamp,
        variant=call.query.variant.value,
    )
    return Response(body=html, headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})
