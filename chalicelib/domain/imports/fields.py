"""What a CSV column can feed (IMP-1): the import targets of each entity.

A mapping entry names a column and a ``field`` of the entity. Several
columns may feed one field (their non-empty values are joined with the
field's separator: "Given Name" + "Additional Name" make the first name, the
three street lines of an Outlook address one street); a column may go to
tags, to a custom field (``custom_field_id``) or to a history note.

Contact details take a ``category`` (work, home, mobile, ...) or a
``category_column`` whose cell names it per row (Google's "E-mail 1 -
Label"); address parts with the same ``group`` form one address.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.contacts.details import CATEGORIES, DEFAULT_CATEGORY, DetailType
from chalicelib.domain.shared.text import fold


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    join: str = " "  # how the values of several columns (or of several rows' cells) are joined
    detail: DetailType | None = None  # a contact detail: takes a category
    address_part: str | None = None  # street, city, state, zip, country
    many: bool = False  # a cell may hold several values (tags, e-mails)


def _targets(*targets: Target) -> dict[str, Target]:
    return {t.name: t for t in targets}


_COMMON_START = (
    Target("id", "The record's id in this CRM: matches it (re-importing an export)"),
    Target("external_id", "The record's id in the system it comes from: matches it on later imports"),
)
_CUSTOM = Target("custom_field", "A custom field's value (custom_field_id)")
_TAGS = Target("tags", "Tags, several separated by , ; or :::", join=",", many=True)

CONTACT_TARGETS = _targets(
    *_COMMON_START,
    Target("kind", "person or company (default: person when a name is given, else company)"),
    Target("full_name", "A person's whole name, split into first and last name"),
    Target("first_name", "First name (several columns: joined with spaces)"),
    Target("middle_name", "Further first names (added to the first name)"),
    Target("last_name", "Last name"),
    Target("company", "A company's name; for a person, the company they work at (found or created)"),
    Target("company_id", "A person's company by its id in this CRM"),
    Target("job_title", "A person's job title"),
    Target("description", "Background text about the contact (several columns: one paragraph each)", join="\n\n"),
    Target("note", "Text added as a history note of the contact", join="\n\n"),
    Target("email", "E-mail address(es)", detail=DetailType.EMAIL, many=True),
    Target("phone", "Phone number(s), stored in E.164", detail=DetailType.PHONE, many=True),
    Target("website", "Web address(es)", detail=DetailType.WEBSITE, many=True),
    Target("social", "Social network profile (category: linkedin, xing, ...)", detail=DetailType.SOCIAL, many=True),
    Target("address.street", "Street (several columns: one line each)", "\n", DetailType.ADDRESS, "street"),
    Target("address.city", "City", detail=DetailType.ADDRESS, address_part="city"),
    Target("address.state", "State or region", detail=DetailType.ADDRESS, address_part="state"),
    Target("address.zip", "Postal code", detail=DetailType.ADDRESS, address_part="zip"),
    Target("address.country", "Country", detail=DetailType.ADDRESS, address_part="country"),
    _TAGS,
    _CUSTOM,
    Target("type", "Contact type by name (SET-3)"),
    Target("temperature", "Temperature by name (SET-4)"),
    Target("currency", "ISO 4217 currency code"),
    Target("managers", "Managers: user e-mail addresses or ids, separated by , or ;", join=",", many=True),
    Target("access", "private, shared_read or shared_write"),
    Target("details_json", "Further contact details as JSON (written by exports)"),
)
DEAL_TARGETS = _targets(
    *_COMMON_START,
    Target("title", "Title (required)"),
    Target("description", "Description", join="\n\n"),
    Target("amount", "Budget amount (1234.50 or 1.234,50)"),
    Target("currency", "ISO 4217 currency code"),
    Target("bid_type", "fixed, hour, day, week, month or year"),
    Target("periods", "Number of periods (not for fixed)"),
    Target("expected_close_date", "Expected close date (2027-01-31 or 31.01.2027)"),
    Target("stage", "Deal stage by name or id"),
    Target("probability", "Success probability in percent"),
    Target("responsible", "Responsible user: e-mail address or id"),
    Target("contact", "Main contact: id or e-mail address"),
    _TAGS,
    _CUSTOM,
)
TASK_TARGETS = _targets(
    *_COMMON_START,
    Target("title", "Title (required)"),
    Target("description", "Description", join="\n\n"),
    Target("due_at", "Due date and time (ISO 8601; a date alone means 09:00 in the tenant's time zone)"),
    Target("category", "Task category by name or id"),
    Target("responsible", "Responsible user: e-mail address or id"),
    Target("contact", "Linked contact: id or e-mail address"),
    Target("deal", "Linked deal: id"),
    Target("case", "Linked case: id"),
    Target("remind_minutes", "Reminder minutes before due: 0, 5, 15, 30, 60, 120 or 1440"),
    Target("status", "open or closed"),
)
CASE_TARGETS = _targets(
    *_COMMON_START,
    Target("title", "Title (required)"),
    Target("members", "Participants: contact ids or e-mail addresses, separated by , or ;", join=",", many=True),
    _TAGS,
    _CUSTOM,
    Target("closed", "true when the case is closed"),
)

TARGETS: dict[str, dict[str, Target]] = {
    "contacts": CONTACT_TARGETS,
    "deals": DEAL_TARGETS,
    "tasks": TASK_TARGETS,
    "cases": CASE_TARGETS,
}
# Match keys each entity can use, and the default.
MATCH_KEYS: dict[str, tuple[str, ...]] = {
    "contacts": ("id", "email", "phone", "external_id", "name"),
    "deals": ("id", "external_id"),
    "tasks": ("id", "external_id"),
    "cases": ("id", "external_id"),
}
DEFAULT_MATCH: dict[str, list[str]] = {
    "contacts": ["id", "email", "external_id"],
    "deals": ["id", "external_id"],
    "tasks": ["id", "external_id"],
    "cases": ["id", "external_id"],
}
# Custom field scope of each entity (contacts: decided per row: person or company).
CUSTOM_SCOPE = {"contacts": "contact", "deals": "deal", "cases": "case"}

# ---- categories of contact details, from words in headers and label cells ----

_CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Most specific first: "Work Fax" is a fax, "Business Mobile" a mobile.
    ("fax", ("fax", "telefax")),
    ("mobile", ("mobile", "mobil", "mobiltelefon", "handy", "cell", "cellular", "iphone")),
    ("direct", ("direct", "durchwahl")),
    ("billing", ("billing", "rechnung", "rechnungsadresse")),
    ("delivery", ("delivery", "shipping", "lieferung", "lieferadresse")),
    ("postal", ("postal", "post")),
    ("home", ("home", "privat", "private", "personal", "persoenlich", "personlich", "zuhause")),
    (
        "work",
        (
            "work",
            "business",
            "office",
            "geschaftlich",
            "geschaeftlich",
            "buro",
            "buero",
            "arbeit",
            "dienstlich",
            "firma",
            "company",
            "main",
            "haupttelefon",
            "primary",
        ),
    ),
    ("other", ("other", "weitere", "weiteres", "weiterer", "andere", "anderes", "sonstige", "sonstiges", "custom")),
)
_SOCIAL = ("linkedin", "xing", "facebook", "twitter", "instagram", "github", "youtube", "skype")


def _tokens(text: str) -> list[str]:
    import re

    return [t for t in re.split(r"[^0-9a-z]+", fold(text.replace("ß", "ss"))) if t]


def category_for(detail: DetailType, text: str | None) -> str | None:
    """The category a header or a label cell ("* Work", "Privat", "Mobile")
    names for a detail type; None when it names none of that type's."""
    if not text:
        return None
    tokens = _tokens(text)
    allowed = CATEGORIES[detail]
    if detail == DetailType.SOCIAL:
        return next((t for t in tokens if t in _SOCIAL), None)
    for category, words in _CATEGORY_WORDS:
        if any(t in words for t in tokens):
            if category in allowed:
                return category
            if detail == DetailType.WEBSITE and category == "home":
                return "personal"
            if category in ("fax", "mobile", "direct") and detail != DetailType.PHONE:
                continue
            if category in ("billing", "delivery", "postal") and detail != DetailType.ADDRESS:
                continue
            return DEFAULT_CATEGORY[detail] if category == "work" else "other"
    return None
