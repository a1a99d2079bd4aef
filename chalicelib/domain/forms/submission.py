"""A visitor's submission: read, checked against its form, cleaned (WEB-3).

Only what the form asks is read; anything else a visitor sends (access,
managers, tags, fields the form does not ask) is never looked at, so it
can never reach a contact. Values are checked by the same rules as a
contact written through the API (details, custom fields), so a submission
that passes here makes a valid contact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import AwareDatetime, ConfigDict, Field

from chalicelib.domain.contacts.details import Address, ContactDetail, DetailType, normalise_details
from chalicelib.domain.contacts.models import ContactKind
from chalicelib.domain.forms.limits import FORM_ENCODED, JSON
from chalicelib.domain.forms.models import ADDRESS_PARTS, ADDRESS_REQUIRED_PARTS, FieldName, FormField, WebForm
from chalicelib.domain.settings.custom_fields import CustomField, FieldType, validate_values
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.errors import (
    BadRequest,
    FieldError,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.domain.shared.model import Model

# Inputs every form has besides its questions.
STAMP_INPUT = "crm_stamp"
HONEYPOT_INPUT = "homepage_url"
CONSENT_INPUT = "consent"
MAX_INPUTS = 200
TEXT_LIMITS = {FieldName.DESCRIPTION: 10_000}
DEFAULT_TEXT_LIMIT = 200
ADDRESS_LIMITS = {"street": 500, "zip": 20, "city": 200, "state": 200, "country": 100}
_TRUE = ("on", "true", "1", "yes")


@dataclass
class Received:
    """The body as sent: flat values by input name (an address as a dict)."""

    values: dict[str, Any]
    is_json: bool

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return value if isinstance(value, str) else ""


def read_body(raw: bytes, content_type: str) -> Received:
    media = (content_type or JSON).split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not UTF-8.") from None
    if media == FORM_ENCODED:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_INPUTS, errors="strict")
        except ValueError:
            raise BadRequest("The form data cannot be read.") from None
        values: dict[str, Any] = {}
        for name, value in pairs:
            base, dot, part = name.partition(".")
            if dot:  # address_work.street -> {"address_work": {"street": ...}}
                nested = values.setdefault(base, {})
                if isinstance(nested, dict):
                    nested.setdefault(part, value)
            else:
                values.setdefault(name, value)  # the first of repeated names counts
        return Received(values, is_json=False)
    if media == JSON:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object of the form's fields.")
        return Received(data, is_json=True)
    raise UnsupportedMediaType(f"Send the form as {FORM_ENCODED} or {JSON}.")


@dataclass
class Cleaned:
    """The visitor's answers, checked: what a contact is made of."""

    contact: dict[str, Any] = field(default_factory=dict)
    company_name: str | None = None  # a person's company (linked or made when processed)
    details: list[dict[str, Any]] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    answers: list[tuple[str, str]] = field(default_factory=list)  # (label, value) for the history event
    consent: bool = False

    @property
    def emails(self) -> list[str]:
        return [str(d["value"]).lower() for d in self.details if d["type"] == DetailType.EMAIL.value]

    @property
    def phones(self) -> list[str]:
        return [str(d["value"]) for d in self.details if d["type"] == DetailType.PHONE.value]


def _text_value(received: Received, name: str, errors: list[FieldError]) -> str:
    value = received.values.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(name, "must be text"))
        return ""
    return value.strip()


def _required(field_: FormField, value: Any, errors: list[FieldError], name: str | None = None) -> bool:
    """False (and an error when it is required) for an empty answer."""
    if value in ("", None, False):
        if field_.required:
            errors.append(FieldError(name or field_.input_name, "is required"))
        return False
    return True


def clean(form: WebForm, received: Received, custom: dict[str, CustomField], region: str) -> Cleaned:
    """Every asked field checked at once; ValidationFailed names each problem by input name."""
    errors: list[FieldError] = []
    result = Cleaned()
    custom_labels = {k: d.label for k, d in custom.items()}
    details: list[ContactDetail] = []
    for asked in form.fields:
        name = asked.input_name
        label = asked.shown_label(custom_labels)
        if asked.field == FieldName.CUSTOM:
            _clean_custom(asked, received, custom, result, errors, label)
        elif asked.field == FieldName.ADDRESS:
            address = _clean_address(asked, received, errors)
            if address is not None:
                details.append(
                    ContactDetail(type=DetailType.ADDRESS, category=asked.detail_category, value=Address(**address))
                )
                shown = ", ".join(v for v in (address[p] for p in ADDRESS_PARTS) if v)
                result.answers.append((label, shown))
        elif asked.detail_type is not None:
            value = _text_value(received, name, errors)
            if not _required(asked, value, errors):
                continue
            if len(value) > 500:
                errors.append(FieldError(name, "must be at most 500 characters"))
                continue
            detail = ContactDetail(type=asked.detail_type, category=asked.detail_category, value=value)
            try:
                normalise_details([detail], region, field=name)
            except ValidationFailed as failed:
                errors += [FieldError(name, e.message) for e in failed.errors]
                continue
            details.append(detail)
            result.answers.append((label, value))
        else:
            value = (
                " ".join(_text_value(received, name, errors).split())
                if asked.field != FieldName.DESCRIPTION
                else (_text_value(received, name, errors))
            )
            if not _required(asked, value, errors):
                continue
            limit = TEXT_LIMITS.get(asked.field, DEFAULT_TEXT_LIMIT)
            if len(value) > limit:
                errors.append(FieldError(name, f"must be at most {limit} characters"))
                continue
            if asked.field == FieldName.COMPANY_NAME and form.kind == ContactKind.PERSON:
                result.company_name = value
            else:
                result.contact[asked.field.value] = value
            result.answers.append((label, value))
    if form.consent_text:
        given = received.values.get(CONSENT_INPUT)
        result.consent = given is True or (isinstance(given, str) and given.strip().lower() in _TRUE)
        if not result.consent:
            errors.append(FieldError(CONSENT_INPUT, "is required"))
    if not errors and details:
        result.details = normalise_details(details, region)
    if errors:
        raise ValidationFailed("Some answers are missing or invalid.", errors=errors)
    return result


def _clean_address(asked: FormField, received: Received, errors: list[FieldError]) -> dict[str, str] | None:
    name = asked.input_name
    raw = received.values.get(name)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(FieldError(name, "must be an object of street, zip, city, state and country"))
        return None
    parts: dict[str, str] = {}
    for part in ADDRESS_PARTS:
        value = raw.get(part, "")
        if not isinstance(value, str):
            errors.append(FieldError(f"{name}.{part}", "must be text"))
            value = ""
        value = " ".join(value.split())
        if len(value) > ADDRESS_LIMITS[part]:
            errors.append(FieldError(f"{name}.{part}", f"must be at most {ADDRESS_LIMITS[part]} characters"))
            value = ""
        parts[part] = value
    if asked.required:
        for part in ADDRESS_REQUIRED_PARTS:
            if not parts[part]:
                errors.append(FieldError(f"{name}.{part}", "is required"))
    return parts if any(parts.values()) else None


def _clean_custom(
    asked: FormField,
    received: Received,
    custom: dict[str, CustomField],
    result: Cleaned,
    errors: list[FieldError],
    label: str,
) -> None:
    definition = custom.get(asked.custom_field_id or "")
    if definition is None or definition.type == FieldType.HEADING:
        return  # deleted since the form was made: no longer asked, never a reason to refuse a lead
    name = asked.input_name
    value = received.values.get(name)
    if definition.type == FieldType.CHECKBOX:
        if isinstance(value, str):
            value = value.strip().lower() in _TRUE
        elif value is None:
            value = False
    elif isinstance(value, str):
        value = value.strip()
    if not _required(asked, value, errors):
        return
    try:
        checked = validate_values([definition], [definition.entity.value], {definition.id: value})
    except ValidationFailed as failed:
        errors += [FieldError(name, e.message) for e in failed.errors]
        return
    if checked.get(definition.id) is not None:
        result.custom_fields[definition.id] = checked[definition.id]
        shown = checked[definition.id]
        result.answers.append((label, "yes" if shown is True else "no" if shown is False else str(shown)))


def history_text(form_name: str, cleaned: Cleaned, consent_text: str | None, received_at: datetime) -> str:
    lines = [f"Web form “{form_name}” sent on {received_at.strftime('%Y-%m-%d %H:%M UTC')}:"]
    lines += [f"{label}: {value}" for label, value in cleaned.answers]
    if consent_text and cleaned.consent:
        lines.append(f"Consent given: “{consent_text}”")
    return "\n".join(lines)


class FormSubmission(Model):
    """An accepted submission: everything its processing needs, fixed at receipt
    (also the jobs-queue message when processing is retried in the background)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["forms.submission"] = "forms.submission"
    tenant_id: str
    form_id: str
    form_name: str
    submission_id: str
    received_at: AwareDatetime
    contact_kind: ContactKind
    contact: dict[str, Any] = Field(default_factory=dict)
    details: list[dict[str, Any]] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    company_name: str | None = None
    tags: list[str] = Field(default_factory=list)
    access: ContactShare = ContactShare.PRIVATE
    manager_ids: list[str] = Field(default_factory=list)
    notify_user_ids: list[str] = Field(default_factory=list)
    text: str

    @property
    def emails(self) -> list[str]:
        return [str(d["value"]).lower() for d in self.details if d["type"] == DetailType.EMAIL.value]

    @property
    def phones(self) -> list[str]:
        return [str(d["value"]) for d in self.details if d["type"] == DetailType.PHONE.value]
