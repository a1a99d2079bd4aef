"""Contact details (CON-3): typed, categorised, repeatable entries with one
primary per type. Phones are stored in E.164 (parsed in the tenant's default
region), e-mails checked and lower-cased in their domain, websites made
absolute."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from chalicelib.domain.identity.models import _EMAIL
from chalicelib.domain.shared.errors import FieldError, ValidationFailed
from chalicelib.domain.shared.model import Model


class DetailType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    WEBSITE = "website"
    SOCIAL = "social"
    ADDRESS = "address"


CATEGORIES: dict[DetailType, tuple[str, ...]] = {
    DetailType.EMAIL: ("work", "home", "other"),
    DetailType.PHONE: ("work", "mobile", "home", "fax", "direct", "other"),
    DetailType.WEBSITE: ("work", "personal", "other"),
    DetailType.SOCIAL: ("linkedin", "xing", "facebook", "twitter", "instagram", "github", "youtube", "skype", "other"),
    DetailType.ADDRESS: ("work", "home", "billing", "delivery", "postal", "other"),
}
DEFAULT_CATEGORY = {
    DetailType.EMAIL: "work",
    DetailType.PHONE: "work",
    DetailType.WEBSITE: "work",
    DetailType.SOCIAL: "other",
    DetailType.ADDRESS: "work",
}
# Searchable details per type (each is an index entry written with the contact).
MAX_SEARCHABLE_PER_TYPE = 5
MAX_DETAILS = 40

Short = Annotated[str, Field(max_length=200)]


class Address(Model):
    model_config = ConfigDict(extra="forbid")
    street: Annotated[str, Field(max_length=500)] = ""
    city: Short = ""
    state: Short = ""
    zip: Annotated[str, Field(max_length=20)] = ""
    country: Annotated[str, Field(max_length=100)] = ""

    @model_validator(mode="after")
    def _not_empty(self) -> "Address":
        if not any((self.street, self.city, self.state, self.zip, self.country)):
            raise ValueError("an address needs at least one part")
        return self


class ContactDetail(Model):
    model_config = ConfigDict(extra="forbid")
    type: DetailType
    category: str | None = Field(default=None, max_length=30)
    value: Address | Annotated[str, Field(min_length=1, max_length=500)]
    primary: bool = False


def normalise_phone(raw: str, region: str) -> str | None:
    """E.164 for a number in any common format, None if it is not one."""
    import phonenumbers  # ~40 ms of metadata: only where phones are handled

    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 5 and all(ch.isdigit() or ch in "+-() ./" for ch in text.strip())


def _normalise_email(value: str) -> str | None:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        return None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _normalise_website(value: str) -> str | None:
    value = value.strip()
    if " " in value or "." not in value:
        return None
    return value if value.lower().startswith(("http://", "https://")) else f"https://{value}"


def normalise_details(details: list[ContactDetail], region: str, *, field: str = "details") -> list[dict[str, Any]]:
    """Checked, normalised details with exactly one primary per type present."""
    if len(details) > MAX_DETAILS:
        raise ValidationFailed("Too many contact details.", errors=[FieldError(field, f"at most {MAX_DETAILS}")])
    errors: list[FieldError] = []
    result: list[dict[str, Any]] = []
    for index, detail in enumerate(details):
        where = f"{field}.{index}"
        category = detail.category or DEFAULT_CATEGORY[detail.type]
        if category not in CATEGORIES[detail.type]:
            errors.append(FieldError(f"{where}.category", "must be one of " + ", ".join(CATEGORIES[detail.type])))
            continue
        is_address = detail.type == DetailType.ADDRESS
        if is_address != isinstance(detail.value, Address):
            errors.append(FieldError(f"{where}.value", "an address is an object; other details are text"))
            continue
        value: object = detail.value
        if detail.type == DetailType.PHONE:
            value = normalise_phone(str(detail.value), region)
            if value is None:
                errors.append(FieldError(f"{where}.value", "is not a valid phone number"))
                continue
        elif detail.type == DetailType.EMAIL:
            value = _normalise_email(str(detail.value))
            if value is None:
                errors.append(FieldError(f"{where}.value", "is not a valid e-mail address"))
                continue
        elif detail.type == DetailType.WEBSITE:
            value = _normalise_website(str(detail.value))
            if value is None:
                errors.append(FieldError(f"{where}.value", "is not a web address"))
                continue
        elif isinstance(detail.value, Address):
            value = detail.value.model_dump()
        else:
            value = str(detail.value).strip()
        result.append({"type": detail.type.value, "category": category, "value": value, "primary": detail.primary})
    if errors:
        raise ValidationFailed("Some contact details are invalid.", errors=errors)
    for kind in DetailType:
        of_kind = [d for d in result if d["type"] == kind.value]
        searchable = [d for d in of_kind if kind in (DetailType.EMAIL, DetailType.PHONE)]
        if len({d["value"] for d in searchable}) > MAX_SEARCHABLE_PER_TYPE:
            raise ValidationFailed(
                "Too many contact details of one type.",
                errors=[FieldError(field, f"at most {MAX_SEARCHABLE_PER_TYPE} {kind.value} entries")],
            )
        primaries = [d for d in of_kind if d["primary"]]
        if len(primaries) > 1:
            raise ValidationFailed(
                "Only one primary detail per type.", errors=[FieldError(field, f"more than one primary {kind.value}")]
            )
        if of_kind and not primaries:
            of_kind[0]["primary"] = True
    return result


def detail_values(details: list[dict[str, Any]], kind: DetailType) -> list[str]:
    return list(dict.fromkeys(str(d["value"]) for d in details if d["type"] == kind.value))
