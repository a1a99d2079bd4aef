"""Web forms (WEB-1, SET-14): what a form asks and what a new contact gets.

A form belongs to its tenant and is found by strangers only through its
public ``key`` (unguessable, rotatable). It asks a list of fields; each is a
contact field (names, company, job title, about), a contact detail of one
type and category, or a custom field of the contact's kind, and is required
or optional. What a new contact gets besides the visitor's answers (tags,
access, managers) comes from the form only: nothing a visitor sends can set
it (WEB-3).
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.contacts.details import CATEGORIES, DEFAULT_CATEGORY, DetailType
from chalicelib.domain.contacts.models import MAX_MANAGERS, MAX_TAGS, ContactKind, TagName
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.records import NotNull, Record, omittable

MAX_FIELDS = 30
MAX_NOTIFY = 20
MAX_ORIGINS = 10
KEY_BYTES = 32  # 256 random bits: unguessable, and the only thing a stranger knows of the form
UserId = Annotated[str, Field(min_length=1, max_length=40)]
Label = Annotated[str, Field(min_length=1, max_length=100)]


class FieldName(StrEnum):
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    COMPANY_NAME = "company_name"
    JOB_TITLE = "job_title"
    DESCRIPTION = "description"  # "about": the contact's description
    EMAIL = "email"
    PHONE = "phone"
    WEBSITE = "website"
    SOCIAL = "social"
    ADDRESS = "address"
    CUSTOM = "custom"


NAME_FIELDS = (FieldName.FIRST_NAME, FieldName.LAST_NAME, FieldName.COMPANY_NAME, FieldName.JOB_TITLE)
DETAIL_FIELDS = {
    FieldName.EMAIL: DetailType.EMAIL,
    FieldName.PHONE: DetailType.PHONE,
    FieldName.WEBSITE: DetailType.WEBSITE,
    FieldName.SOCIAL: DetailType.SOCIAL,
    FieldName.ADDRESS: DetailType.ADDRESS,
}
# Fields a form of each kind may ask (CON-1: a person's company is a link, made from the name typed).
ALLOWED = {
    ContactKind.PERSON: set(FieldName),
    ContactKind.COMPANY: set(FieldName) - {FieldName.FIRST_NAME, FieldName.LAST_NAME, FieldName.JOB_TITLE},
}
REQUIRED = {
    ContactKind.PERSON: (FieldName.FIRST_NAME, FieldName.LAST_NAME),
    ContactKind.COMPANY: (FieldName.COMPANY_NAME,),
}
DEFAULT_LABELS = {
    FieldName.FIRST_NAME: "First name",
    FieldName.LAST_NAME: "Last name",
    FieldName.COMPANY_NAME: "Company",
    FieldName.JOB_TITLE: "Job title",
    FieldName.DESCRIPTION: "Message",
    FieldName.EMAIL: "E-mail",
    FieldName.PHONE: "Phone",
    FieldName.WEBSITE: "Website",
    FieldName.SOCIAL: "Profile",
    FieldName.ADDRESS: "Address",
}
# The parts of an address input; a required address needs all but the state.
ADDRESS_PARTS = ("street", "zip", "city", "state", "country")
ADDRESS_REQUIRED_PARTS = ("street", "zip", "city", "country")


class FormField(BaseModel):
    """One question of a form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: FieldName
    category: str | None = Field(
        default=None, max_length=30, description="Details only (email, phone, ...): work, home, mobile, ..."
    )
    custom_field_id: str | None = Field(default=None, max_length=40, description="field=custom only")
    required: bool = False
    label: Label | None = Field(default=None, description="Shown to visitors; a default fits the field")

    @model_validator(mode="after")
    def _fits(self) -> "FormField":
        detail = DETAIL_FIELDS.get(self.field)
        if detail is None and self.category is not None:
            raise ValueError("only contact details (email, phone, website, social, address) have a category")
        if detail is not None and self.category is not None and self.category not in CATEGORIES[detail]:
            raise ValueError(f"{self.field.value} category must be one of " + ", ".join(CATEGORIES[detail]))
        if (self.field == FieldName.CUSTOM) != (self.custom_field_id is not None):
            raise ValueError("custom_field_id goes with field=custom, and only there")
        return self

    @property
    def detail_type(self) -> DetailType | None:
        return DETAIL_FIELDS.get(self.field)

    @property
    def detail_category(self) -> str:
        detail = self.detail_type
        assert detail is not None
        return self.category or DEFAULT_CATEGORY[detail]

    @property
    def input_name(self) -> str:
        """The name the visitor's browser posts it under (form-encoded and JSON alike)."""
        if self.field == FieldName.CUSTOM:
            return f"cf_{self.custom_field_id}"
        if self.detail_type is not None:
            return f"{self.field.value}_{self.detail_category}"
        return self.field.value

    def shown_label(self, custom_labels: dict[str, str] | None = None) -> str:
        if self.label:
            return self.label
        if self.field == FieldName.CUSTOM:
            return (custom_labels or {}).get(self.custom_field_id or "", "Answer")
        base = DEFAULT_LABELS[self.field]
        if self.detail_type is not None and self.category and self.category != DEFAULT_CATEGORY[self.detail_type]:
            return f"{base} ({self.category})"
        return base


def _origin(value: str) -> str:
    """``scheme://host[:port]`` as browsers send it in Origin, lower-cased."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return _origin(f"{parts.scheme}://{parts.netloc}")


def _absolute_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in value for c in " \r\n\t"):
        raise ValueError("must be an absolute http(s) URL")
    return value


ReturnUrl = Annotated[str, Field(min_length=8, max_length=2000)]
Origin = Annotated[str, Field(min_length=8, max_length=300)]
FormName = Annotated[str, Field(min_length=1, max_length=100)]
ConsentText = Annotated[str, Field(min_length=1, max_length=2000)]
ThankYou = Annotated[str, Field(min_length=1, max_length=500)]


def check_fields(kind: ContactKind, fields: list[FormField]) -> list[str]:
    """Problems of a field list for a form of ``kind`` (CON-1 and the input names)."""
    problems = []
    names = [f.input_name for f in fields]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append("asked twice: " + ", ".join(twice))
    for field in fields:
        if field.field not in ALLOWED[kind]:
            problems.append(f"a {kind.value} form cannot ask {field.field.value}")
    asked = {f.field: f for f in fields}
    for needed in REQUIRED[kind]:
        if needed not in asked or not asked[needed].required:
            problems.append(f"a {kind.value} form must ask {needed.value}, required")
    return problems


class _FormSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[FormField] | None = Field(default=None, min_length=1, max_length=MAX_FIELDS)
    tags: list[TagName] | None = Field(default=None, max_length=MAX_TAGS, description="Given to new contacts")
    access: ContactShare | None = Field(default=None, description="Of new contacts; default private")
    manager_ids: list[UserId] | None = Field(
        default=None, min_length=1, max_length=MAX_MANAGERS, description="Managers of new contacts; default you"
    )
    notify_user_ids: list[UserId] | None = Field(
        default=None, max_length=MAX_NOTIFY, description="Told of every submission"
    )
    return_url: ReturnUrl | None = Field(default=None, description="Where a visitor lands after sending the form")
    allowed_origins: list[Origin] | None = Field(
        default=None,
        max_length=MAX_ORIGINS,
        description="Origins whose pages may post the form with JavaScript (CORS); default the return URL's origin",
    )
    consent_text: ConsentText | None = Field(
        default=None, description="Shown next to a checkbox the visitor must tick; kept with the submission"
    )
    thank_you_text: ThankYou | None = Field(default=None, description="What the JavaScript variant shows when sent")
    enabled: bool | None = None

    @field_validator("return_url")
    @classmethod
    def _return_url(cls, value: str | None) -> str | None:
        return _absolute_url(value) if value is not None else None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(_origin(v) for v in value)) if value is not None else None


class NewWebForm(_FormSettings):
    name: FormName
    kind: ContactKind = ContactKind.PERSON
    fields: Annotated[list[FormField], Field(min_length=1, max_length=MAX_FIELDS)]
    return_url: ReturnUrl

    @model_validator(mode="after")
    def _kind_fields(self) -> "NewWebForm":
        problems = check_fields(self.kind, self.fields)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class WebFormChanges(_FormSettings):
    """PATCH: only the fields sent change. The kind of a form stays."""

    name: Annotated[FormName, NotNull] = omittable()
    access: Annotated[ContactShare, NotNull] = omittable(description="Of new contacts")
    enabled: Annotated[bool, NotNull] = omittable()


class WebForm(Record):
    tenant_id: str
    name: str
    kind: ContactKind
    fields: list[FormField]
    tags: list[str] = Field(default_factory=list)
    access: ContactShare = ContactShare.PRIVATE
    manager_ids: list[str] = Field(default_factory=list)
    notify_user_ids: list[str] = Field(default_factory=list)
    return_url: str
    allowed_origins: list[str] = Field(default_factory=list)
    consent_text: str | None = None
    thank_you_text: str | None = None
    enabled: bool = True
    key: str

    def custom_field_ids(self) -> list[str]:
        return [f.custom_field_id for f in self.fields if f.custom_field_id]

    def allows_origin(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return _origin(origin) in self.allowed_origins
        except ValueError:
            return False  # "null" and the like: never a CORS origin


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def valid_key(key: str) -> bool:
    """What a key can look like (anything else is not looked up)."""
    return 20 <= len(key) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
