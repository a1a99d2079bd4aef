"""The pydantic models of the contacts API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.contacts.models import Contact
from chalicelib.domain.settings.custom_fields import custom_field_values
from chalicelib.domain.shared.model import Model


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


class BulkFailureView(Model):
    id: str
    status: int
    reason: str
    detail: str


class BulkResultView(Model):
    succeeded: list[str]
    failed: list[BulkFailureView]


class JobAcceptedView(Model):
    job_id: str
    status_url: str


class PhotoView(Model):
    contact_id: str
    contact_version: int
    content_type: str
    width: int
    height: int
    size: int
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> "PhotoView":
        photo = contact.photo or {}
        return cls(contact_id=contact.id, contact_version=contact.version, **photo)
