"""What the web forms feature needs from the outside world (WEB-1..3).

storage/forms.py implements the stores with DynamoDB, storage/memory/forms.py
in memory (held to the same contract tests); the rest is implemented by
other features' services and stores, wired in bootstrap/container.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.contacts.models import Contact, ContactQuery, NewContact
from chalicelib.domain.forms.models import WebForm
from chalicelib.domain.identity.models import Tenant, User
from chalicelib.domain.records.history import HistoryEvent
from chalicelib.domain.settings.custom_fields import CustomField
from chalicelib.domain.shared.limits import RateCounters as RateCounters  # the one counter port
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal


class WebFormStore(Protocol):
    """Forms and their public-key lookup items, written together."""

    def get(self, tenant_id: str, form_id: str) -> WebForm | None: ...

    def find_by_key(self, key: str) -> tuple[str, str] | None:
        """(tenant id, form id) of a public key, None if no form has it."""
        ...

    def list_forms(self, tenant_id: str, page: PageRequest) -> Slice[WebForm]: ...

    def create(self, record: WebForm, *, by: str | None) -> WebForm: ...

    def update(self, before: WebForm, after: WebForm, *, by: str | None) -> WebForm:
        """Conditioned on ``before.version``; moves the key lookup when the key changed."""
        ...

    def delete(self, record: WebForm, *, by: str | None, at: Any) -> None: ...


class TenantDirectory(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[User]: ...

    def list_users(self, tenant_id: str, page: PageRequest) -> Slice[User]: ...


class ContactWriter(Protocol):
    """The contacts service: its rules apply to a contact a form makes."""

    def create(
        self, principal: Principal, tenant: Tenant, request: NewContact, *, contact_id: str | None = None
    ) -> Contact: ...


class ContactLookup(Protocol):
    """Finding a visitor among the contacts (never shown to the visitor)."""

    def get(self, tenant_id: str, record_id: str) -> Contact | None: ...

    def email_owners(self, tenant_id: str, email: str) -> list[str]: ...

    def phone_owners(self, tenant_id: str, phone: str) -> list[str]: ...

    def query_contacts(
        self, tenant_id: str, query: ContactQuery, page: PageRequest, *, visible: Any, phone: str | None = None
    ) -> Slice[Contact]: ...


class HistoryWriter(Protocol):
    def add_event(self, event: HistoryEvent) -> None:
        """Conflict when the event exists already (a retried submission)."""
        ...


class CustomFieldDefinitions(Protocol):
    def for_scope(self, principal: Principal, scope: str) -> list[CustomField]: ...


class Notifications(Protocol):
    def notify(
        self,
        tenant_id: str,
        user_ids: list[str],
        kind: str,
        subject: str,
        link: str | None = None,
        *,
        email_note: str | None = None,
        once_key: str | None = None,
        once_at: datetime | None = None,
    ) -> list[Any]: ...
