"""Contacts (CON-1..12): persons and companies, their details, tags, custom
values, managers and access.

Access is decided by domain/shared/access.py only: a contact is private (managers
and admins), shared for reading, or shared for reading and writing. The
creator is the first manager unless others are named. Hidden contacts answer
404. Changing managers or the share mode needs CHANGE_ACCESS.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.contacts.details import ContactDetail, DetailType, detail_values, looks_like_phone
from chalicelib.domain.settings.currency import CurrencyCode
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ContactAccess, ContactShare, Operation
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import NotNull, Record, omittable
from chalicelib.domain.shared.text import fold, spelling_variants, words

MAX_TAGS = 10
MAX_MANAGERS = 5
MAX_NAME_TOKENS = 5
MAX_VARIANT_TOKENS = 2
MAX_COMPANY_TOKENS = 3

Text200 = Annotated[str, Field(max_length=200)]
TagName = Annotated[str, Field(min_length=1, max_length=50)]


class ContactKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


def clean_tags(tags: list[str]) -> list[str]:
    """Trimmed, de-duplicated case-insensitively, in the given order."""
    seen: dict[str, str] = {}
    for tag in tags:
        name = " ".join(tag.split())
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return list(seen.values())


class _ContactFields(Model):
    model_config = ConfigDict(extra="forbid")

    first_name: Text200 | None = None
    last_name: Text200 | None = None
    job_title: Text200 | None = None
    company_id: str | None = Field(default=None, max_length=40, description="A person's company (a contact id)")
    company_name: Text200 | None = Field(default=None, description="A company's name")
    type_id: str | None = Field(default=None, max_length=40, description="contact-types entry; null: not specified")
    temperature_id: str | None = Field(default=None, max_length=40, description="temperatures entry")
    description: Annotated[str, Field(max_length=10_000)] | None = None
    currency: CurrencyCode | None = Field(default=None, description="ISO 4217 code, default for its invoices")
    tags: list[TagName] | None = Field(default=None, max_length=MAX_TAGS)
    managers: Annotated[
        list[Annotated[str, Field(max_length=40)]], NotNull, Field(min_length=1, max_length=MAX_MANAGERS)
    ] = omittable(description="User ids; a contact keeps at least one manager")
    access: Annotated[ContactShare, NotNull] = omittable(description="Default private")
    details: list[ContactDetail] | None = None
    custom_fields: dict[str, Any] | None = Field(
        default=None, description="Custom field values by field id (see /v1/custom-fields); null removes one."
    )

    @field_validator("first_name", "last_name", "company_name", "job_title")
    @classmethod
    def _trim(cls, value: str | None) -> str | None:
        return " ".join(value.split()) if value is not None else None


class NewContact(_ContactFields):
    kind: ContactKind

    @model_validator(mode="after")
    def _names_for_kind(self) -> "NewContact":
        check_kind_fields(self.kind, self.model_dump(exclude_unset=True))
        return self


class ContactChanges(_ContactFields):
    """PATCH: only the fields sent change; null clears a field."""


def check_kind_fields(kind: ContactKind, fields: dict[str, Any], *, partial: bool = False) -> None:
    """CON-1: a person has first and last name, a company its name."""
    if kind == ContactKind.PERSON:
        for name in ("first_name", "last_name"):
            if (name in fields or not partial) and not fields.get(name):
                raise ValueError(f"a person needs {name}")
        if fields.get("company_name"):
            raise ValueError("company_name is for companies; a person links one with company_id")
    else:
        if ("company_name" in fields or not partial) and not fields.get("company_name"):
            raise ValueError("a company needs company_name")
        for name in ("first_name", "last_name", "job_title", "company_id"):
            if fields.get(name):
                raise ValueError(f"{name} is for persons")


class Contact(Record):
    tenant_id: str
    kind: ContactKind
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    type_id: str | None = None
    temperature_id: str | None = None
    description: str | None = None
    currency: str | None = None
    tags: list[str] = Field(default_factory=list)
    managers: list[str] = Field(default_factory=list)
    access: ContactShare = ContactShare.PRIVATE
    details: list[dict[str, Any]] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    photo: dict[str, Any] | None = None

    @field_validator("photo")
    @classmethod
    def _photo_numbers(cls, photo: dict[str, Any] | None) -> dict[str, Any] | None:
        # DynamoDB gives numbers back as Decimal, which JSON would turn into
        # strings: the change log would record "200" before and 200 after.
        if photo is None:
            return None
        return {k: int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else v for k, v in photo.items()}

    @property
    def display_name(self) -> str:
        if self.kind == ContactKind.COMPANY:
            return self.company_name or ""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def sort_name(self) -> str:
        """Persons sort by last name, then first name."""
        if self.kind == ContactKind.COMPANY:
            return fold(self.company_name or "")
        return fold(f"{self.last_name or ''} {self.first_name or ''}")

    def access_record(self) -> ContactAccess:
        return ContactAccess(managers=frozenset(self.managers), share=self.access, created_by=self.created_by or "")

    def emails(self) -> list[str]:
        return [e.lower() for e in detail_values(self.details, DetailType.EMAIL)]

    def phones(self) -> list[str]:
        return detail_values(self.details, DetailType.PHONE)

    def search_tokens(self) -> list[str]:
        """What a search matches, folded: the name's words (also as written
        without umlauts), a person's company name, and the e-mail addresses.
        Each token is an index entry in the contact's transaction, hence the caps."""
        name = [w for w in words(self.display_name) if len(w) >= 2][:MAX_NAME_TOKENS]
        variants = [w for w in spelling_variants(self.display_name) if len(w) >= 2][:MAX_VARIANT_TOKENS]
        company = (
            [w for w in words(self.company_name or "") if len(w) >= 2][:MAX_COMPANY_TOKENS]
            if self.kind == ContactKind.PERSON
            else []
        )
        return list(dict.fromkeys(name + variants + company + [fold(e) for e in self.emails()]))


class ContactSort(StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    CREATED = "created"
    CREATED_DESC = "-created"


class ContactQuery(Model):
    """GET /v1/contacts filters (CON-12)."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(
        default=None,
        min_length=2,
        max_length=100,
        description="Words that each begin a word of the name, the company's name or an "
        "e-mail address (any order, accents and case ignored: 'anna mu', "
        "'muller anna'), or a phone number in any common format",
    )
    kind: ContactKind | None = None
    type_id: str | None = Field(default=None, max_length=40, description="'none' for contacts without a type")
    tag: TagName | None = None
    temperature_id: str | None = Field(default=None, max_length=40)
    manager_id: str | None = Field(default=None, max_length=40)
    company_id: str | None = Field(default=None, max_length=40, description="persons of this company")
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    sort: ContactSort | None = Field(
        default=None, description="Default name; not with q (matches come by the matched word)"
    )

    @model_validator(mode="after")
    def _searchable(self) -> "ContactQuery":
        if self.q is not None:
            if self.sort is not None:
                raise ValueError(
                    "sort cannot be combined with q: search results come in the order of the matched "
                    "word; leave sort out or filter without q"
                )
            if not looks_like_phone(self.q) and not any(len(w) >= 2 for w in words(self.q)):
                raise ValueError("q needs a word of at least two letters")
        return self

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def search_words(q: str) -> tuple[str, list[str]]:
    """The word a search reads the index by (the longest: the fewest
    entries), and the words every match must also begin a token with."""
    typed = words(q)
    driving = max((w for w in typed if len(w) >= 2), key=len)
    return driving, [w for w in typed if w != driving]


def tokens_match(tokens: list[str], others: list[str]) -> bool:
    """Every further query word begins some token of the contact."""
    return all(any(t.startswith(word) for t in tokens) for word in others)


def entry_matches(entry: dict[str, Any], query: ContactQuery) -> bool:
    """Does an index entry (which carries the filterable attributes) pass the
    filters that its partition did not already apply?"""
    if query.kind and entry.get("kind") != query.kind.value:
        return False
    if query.type_id and (entry.get("type_id") or "none") != query.type_id:
        return False
    if query.temperature_id and (entry.get("temperature_id") or "none") != query.temperature_id:
        return False
    if query.tag and fold(query.tag) not in (entry.get("tags") or []):
        return False
    if query.manager_id and query.manager_id not in (entry.get("managers") or []):
        return False
    if query.company_id and entry.get("company_id") != query.company_id:
        return False
    created = entry.get("created_at")
    if query.created_from and (not created or datetime.fromisoformat(created) < query.created_from):
        return False
    if query.created_to and (not created or datetime.fromisoformat(created) > query.created_to):
        return False
    return True


def entry_access(entry: dict[str, Any]) -> ContactAccess:
    return ContactAccess(
        managers=frozenset(entry.get("managers") or []),
        share=ContactShare(entry.get("access", ContactShare.PRIVATE.value)),
        created_by=entry.get("created_by") or "",
    )


def can(principal: Principal, operation: Operation, contact: Contact) -> bool:
    return access.allowed(principal, operation, contact.access_record())
