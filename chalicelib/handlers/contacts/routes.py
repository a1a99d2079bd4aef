"""Contacts: persons and companies (CON-1..12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.contacts.models import Contact, ContactChanges, ContactQuery, NewContact
from chalicelib.domain.contacts.service import region
from chalicelib.domain.settings.custom_fields import custom_field_values
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route

bp = Blueprint(__name__)
TAG = "Contacts"


class ContactView(Model):
    id: str
    version: int
    kind: str
    display_name: str
    first_name: str | None
    last_name: str | None
    job_title: str | None
    company_id: str | None
    company_name: str | None
    type_id: str | None
    temperature_id: str | None
    description: str | None
    currency: str | None
    tags: list[str]
    managers: list[str]
    access: str
    details: list[dict[str, Any]]
    custom_fields: dict[str, Any] = custom_field_values("contact")
    has_photo: bool
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, contact: Contact) -> "ContactView":
        return cls(
            **contact.model_dump(exclude={"tenant_id", "photo"}),
            display_name=contact.display_name,
            has_photo=contact.photo is not None,
        )


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
