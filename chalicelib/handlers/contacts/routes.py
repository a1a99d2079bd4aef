"""Contacts: persons and companies (CON-1..12)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.contacts.models import ContactChanges, ContactQuery, NewContact
    from chalicelib.domain.contacts.service import region
    from chalicelib.handlers.contacts.views import ContactView


bp = Blueprint(__name__)
TAG = "Contacts"


@route(
    bp,
    "/v1/contacts",
    "GET",
    summary="List, search and filter contacts",
    tag=TAG,
    query=ContactQuery,
    response=ContactView,
    paged=True,
)
def list_contacts(call: Call) -> Page[ContactView]:
    page = call.page_request("contacts.list", **call.query.filters())
    found = container().contacts.list(call.caller, call.query, page, region=region(call.tenant))
    return call.page(found, ContactView.of)


@route(
    bp,
    "/v1/contacts",
    "POST",
    summary="Create a person or a company",
    tag=TAG,
    body=NewContact,
    response=ContactView,
    status=201,
)
def create_contact(call: Call) -> ContactView:
    return ContactView.of(container().contacts.create(call.caller, call.tenant, call.body))


@route(bp, "/v1/contacts/{contact_id}", "GET", summary="One contact", tag=TAG, response=ContactView, errors=(404,))
def get_contact(contact_id: str, call: Call) -> ContactView:
    return ContactView.of(container().contacts.get(call.caller, contact_id))


@route(
    bp,
    "/v1/contacts/{contact_id}",
    "PATCH",
    summary="Change a contact (only the fields sent)",
    tag=TAG,
    body=ContactChanges,
    response=ContactView,
    if_match=True,
    errors=(404,),
)
def update_contact(contact_id: str, call: Call) -> ContactView:
    return ContactView.of(
        container().contacts.update(
            call.caller, call.tenant, contact_id, call.body, expected_version=call.expected_version()
        )
    )


@route(
    bp,
    "/v1/contacts/{contact_id}",
    "DELETE",
    summary="Delete a contact and what hangs off it",
    tag=TAG,
    status=204,
    errors=(404, 409, 412),
)
def delete_contact(contact_id: str, call: Call) -> None:
    container().contacts.delete(call.caller, contact_id, expected_version=call.optional_version())


@route(
    bp,
    "/v1/contacts/{contact_id}/persons",
    "GET",
    summary="A company's persons",
    tag=TAG,
    response=ContactView,
    paged=True,
    errors=(404,),
)
def company_persons(contact_id: str, call: Call) -> Page[ContactView]:
    page = call.page_request("contacts.persons", company_id=contact_id)
    return call.page(container().contacts.persons(call.caller, contact_id, page), ContactView.of)
