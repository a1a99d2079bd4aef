"""The suggested mapping (IMP-1, IMP-4): columns recognised by their headers.

Written for the files people actually have: Google Contacts ("First Name",
"E-mail 1 - Label" / "E-mail 1 - Value", "Address 1 - Street", and the
older "Given Name" / "Group Membership" layout), Outlook in English and
German ("E-mail Address", "Business Street 2", "Mobile Phone";
"E-Mail-Adresse", "Straße geschäftlich", "Mobiltelefon"), Excel lists
("Vorname;Nachname;Firma;E-Mail;Telefon;PLZ;Ort") and this CRM's own
exports. Headers are folded (case, accents, "ß", hyphens) and split into
words; a number in a header is the index of a repeated detail ("Phone 2"),
a category word its category ("geschäftlich", "Home", "Mobile"). A label or
type column ("E-mail 1 - Label") becomes the ``category_column`` of the
value column with the same index. Address parts with the same index or
category form one address. Headers naming a custom field (its label, or
"<label> (custom field)") map to it. A file without a header gets e-mail and
phone columns recognised by their values.

Accepting the suggestion unchanged puts names, company, e-mail addresses,
phones, addresses and notes in their fields: the tests hold it to that for
each layout above (tests/unit/imports/test_suggested_mapping.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chalicelib.domain.contacts.details import DetailType, looks_like_phone
from chalicelib.domain.imports.fields import category_for
from chalicelib.domain.imports.models import ColumnMapping, ImportEntity
from chalicelib.domain.shared.text import fold

CUSTOM_SUFFIX = "(custom field)"


@dataclass(frozen=True)
class FieldRef:
    """A custom field the header may name."""

    id: str
    label: str
    entity: str


def tokens(header: str) -> list[str]:
    text = fold(header.replace("ß", "ss").replace("’", "'"))
    text = re.sub(r"\be[\s\-_]?mail\b", "email", text)
    text = text.replace("'s ", " ")
    return [t for t in re.split(r"[^0-9a-z]+", text) if t]


def _plain(words: Sequence[str], drop: Iterable[str] = ()) -> str:
    dropped = set(drop)
    return " ".join(w for w in words if not w.isdigit() and w not in dropped)


def _index(words: Sequence[str]) -> str | None:
    return next((w for w in words if w.isdigit()), None)


# ---- contacts ----

_FIRST = {"first name", "firstname", "given name", "givenname", "vorname", "first", "forename", "prenom", "vornamen"}
_MIDDLE = {"middle name", "additional name", "weitere vornamen", "zweiter vorname", "second name", "middle"}
_LAST = {"last name", "lastname", "family name", "surname", "nachname", "familienname", "last", "name last"}
_FULL = {
    "name",
    "full name",
    "fullname",
    "display name",
    "anzeigename",
    "contact name",
    "kontaktname",
    "contact",
    "kontakt",
    "vollstandiger name",
    "file as",
    "speichern unter",
}
_COMPANY = {
    "company",
    "company name",
    "organization",
    "organisation",
    "organization name",
    "organisation name",
    "organisationsname",
    "firma",
    "firmenname",
    "unternehmen",
    "unternehmensname",
    "account name",
    "arbeitgeber",
    "employer",
    "organization 1 name",
}
_JOB = {
    "job title",
    "jobtitle",
    "jobtitel",
    "position",
    "organization title",
    "organisation title",
    "organisationstitel",
    "organization job title",
    "berufsbezeichnung",
    "funktion",
    "role",
    "rolle",
    "job",
}
_NOTES = {
    "notes",
    "note",
    "notizen",
    "notiz",
    "bemerkung",
    "bemerkungen",
    "comment",
    "comments",
    "kommentar",
    "kommentare",
    "description",
    "beschreibung",
    "about",
    "background",
    "hintergrund",
    "info",
    "informationen",
    "memo",
}
_TAGS = {
    "labels",
    "categories",
    "kategorien",
    "kategorie",
    "tags",
    "tag",
    "group membership",
    "groups",
    "gruppen",
    "gruppe",
    "stichworter",
    "schlagworter",
    "keywords",
}
_EXACT: dict[str, str] = {
    **{h: "first_name" for h in _FIRST},
    **{h: "middle_name" for h in _MIDDLE},
    **{h: "last_name" for h in _LAST},
    **{h: "full_name" for h in _FULL},
    **{h: "company" for h in _COMPANY},
    **{h: "job_title" for h in _JOB},
    **{h: "description" for h in _NOTES},
    **{h: "tags" for h in _TAGS},
    "id": "id",
    "crm id": "id",
    "record id": "id",
    "contact id": "id",
    "external id": "external_id",
    "externe id": "external_id",
    "customer number": "external_id",
    "customer no": "external_id",
    "customer id": "external_id",
    "kundennummer": "external_id",
    "kunden nr": "external_id",
    "kundennr": "external_id",
    "kunden id": "external_id",
    "source id": "external_id",
    "kind": "kind",
    "contact kind": "kind",
    "art": "kind",
    "company id": "company_id",
    "contact type": "type",
    "kontakttyp": "type",
    "kontaktart": "type",
    "type": "type",
    "temperature": "temperature",
    "temperatur": "temperature",
    "currency": "currency",
    "wahrung": "currency",
    "managers": "managers",
    "betreuer": "managers",
    "access": "access",
    "zugriff": "access",
    "history note": "note",
    "more details": "details_json",
}
_EMAIL_WORDS = {"email", "mail", "emailadresse", "emails"}
_PHONE_WORDS = {
    "phone",
    "phones",
    "telephone",
    "telefon",
    "telefonnummer",
    "tel",
    "fax",
    "telefax",
    "handy",
    "mobile",
    "mobil",
    "pager",
    "isdn",
    "cell",
    "cellular",
}
_WEB_WORDS = {"website", "web", "webseite", "homepage", "url", "webpage", "internetseite", "internet"}
_ADDRESS_PARTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("zip", frozenset({"zip", "postleitzahl", "plz", "postcode", "zipcode"})),
    ("country", frozenset({"country", "land", "staat", "nation"})),
    ("street", frozenset({"street", "strasse", "str", "line"})),
    ("city", frozenset({"city", "ort", "stadt", "town", "locality", "wohnort"})),
    ("state", frozenset({"state", "region", "bundesland", "province", "kanton", "county", "provinz"})),
)
_ADDRESS_WORDS = {"address", "adresse", "anschrift", "addresse"}
_IGNORED_ADDRESS = {"po", "box", "pobox", "postfach", "formatted", "formatiert", "extended", "adresszusatz"}
_LABEL_WORDS = {"label", "type", "typ"}
# Words of a header that are not its category ("Postal Code" is a zip code, not a postal address).
_NOT_CATEGORY = _LABEL_WORDS | {"postal", "code", "value", "wert", "address", "adresse"}
_SOCIAL_WORDS = {"linkedin", "xing", "facebook", "twitter", "instagram", "github", "youtube", "skype", "social"}


@dataclass
class _Guess:
    column: int
    field: str
    kind: str = ""  # email, phone, website, social, address: pairs labels with values
    index: str | None = None
    category: str | None = None
    group: str | None = None
    label: bool = False  # a label/type column of a detail


def _detail_kind(words: list[str]) -> str | None:
    joined = set(words)
    if joined & {"free", "busy", "frei", "gebucht"}:  # Outlook's "Internet Free Busy"
        return None
    if joined & _EMAIL_WORDS:
        if joined & {"display", "anzeigename", "angezeigter", "angezeigt"}:
            return None
        return "email"
    if joined & _PHONE_WORDS or any(w.endswith(("telefon", "phone")) for w in words):
        return "phone"
    if joined & _SOCIAL_WORDS:
        return "social"
    if joined & _WEB_WORDS:
        return "website"
    if joined & _ADDRESS_WORDS or any(joined & parts for _, parts in _ADDRESS_PARTS) or {"postal", "code"} <= joined:
        return "address"
    return None


def _address_part(words: list[str]) -> str | None:
    joined = set(words)
    if joined & _IGNORED_ADDRESS:
        return None
    if "postal" in joined and "code" in joined:
        return "zip"
    if "address" in joined and "line" in joined:
        return "street"
    for part, names in _ADDRESS_PARTS:
        if joined & names:
            return part
    return "whole" if joined & _ADDRESS_WORDS else None


def _contact_guess(column: int, header: str) -> _Guess | None:
    words = tokens(header)
    if not words:
        return None
    plain = _plain(words, drop=("value", "wert", "1"))
    if plain in _EXACT and not (plain in _TAGS and _detail_kind(words)):
        return _Guess(column, _EXACT[plain])
    kind = _detail_kind(words)
    if kind is None:
        return None
    index = _index(words)
    is_label = bool(set(words) & _LABEL_WORDS)
    detail = DetailType(kind)
    naming = [w for w in words if w not in _NOT_CATEGORY]
    category = category_for(detail, " ".join(naming))
    main_number = {"phone", "phones", "telephone", "telefon", "telefonnummer", "tel"}
    if kind == "phone" and category is None and [w for w in naming if not w.isdigit() and w not in main_number]:
        category = "other"  # "Car Phone", "Pager", "Telefon Assistent": not the main number
    if kind == "address":
        part = _address_part(words)
        if part is None:
            return None
        if is_label:
            return _Guess(column, "", kind, index, category, label=True)
        # Outlook numbers street lines ("Business Street 2"), Google addresses ("Address 2 - City").
        group = category or index or "main"
        return _Guess(column, f"address.{part}", kind, index, category, group)
    if is_label:
        return _Guess(column, "", kind, index, category, label=True)
    return _Guess(column, kind, kind, index, category)


def _contact_mapping(header: Sequence[str], samples: Sequence[Sequence[str]]) -> list[ColumnMapping]:
    guesses = [g for i, h in enumerate(header) if (g := _contact_guess(i, h)) is not None]
    labels = {(g.kind, g.index): g.column for g in guesses if g.label}
    mapped = [g for g in guesses if not g.label]
    fields = {g.field for g in mapped}
    if "first_name" in fields and "last_name" not in fields:
        # "Name" beside a first name is the last name (German lists).
        mapped = [_Guess(g.column, "last_name") if g.field == "full_name" else g for g in mapped]
    elif "first_name" in fields or "last_name" in fields:
        # A whole name beside first and last names repeats them (Google's "Name", Outlook's "File As").
        mapped = [g for g in mapped if g.field != "full_name"]
    groups: dict[str | None, set[str]] = {}
    for g in mapped:
        if g.field.startswith("address."):
            groups.setdefault(g.group, set()).add(g.field)
    if len(groups) > 1 and groups.get("main") == {"address.city"}:
        # Outlook's lone "Ort"/"Location" beside its addresses is a place, not an address.
        mapped = [g for g in mapped if not (g.group == "main" and g.field == "address.city")]
    result = []
    for g in mapped:
        if g.field == "address.whole":
            # A whole address ("Home Address") only where its group has no street.
            if "address.street" in groups.get(g.group, set()):
                continue
            g.field = "address.street"
        entry: dict[str, object] = {"column": g.column, "field": g.field}
        if g.kind:
            label_column = labels.get((g.kind, g.index))
            if label_column is not None:
                entry["category_column"] = label_column
            if g.category is not None:
                entry["category"] = g.category
            if g.kind == "address":
                entry["group"] = g.group
        result.append(ColumnMapping.model_validate(entry))
    if not header or all(h.startswith("Column ") for h in header):
        result += _by_values(samples, {m.column for m in result})
    return result


def _by_values(samples: Sequence[Sequence[str]], taken: set[int]) -> list[ColumnMapping]:
    """Headerless files: columns whose values are e-mail addresses or phone numbers."""
    width = max((len(r) for r in samples), default=0)
    found = []
    for column in range(width):
        values = [r[column].strip() for r in samples if column < len(r) and r[column].strip()]
        if column in taken or not values:
            continue
        if sum("@" in v and "." in v.split("@")[-1] for v in values) >= 0.8 * len(values):
            found.append(ColumnMapping(column=column, field="email"))
        elif sum(looks_like_phone(v) for v in values) >= 0.8 * len(values):
            found.append(ColumnMapping(column=column, field="phone"))
    return found


# ---- deals, tasks, cases ----

_COMMON = {
    "id": "id",
    "crm id": "id",
    "external id": "external_id",
    "externe id": "external_id",
    "title": "title",
    "titel": "title",
    "name": "title",
    "subject": "title",
    "betreff": "title",
    "description": "description",
    "beschreibung": "description",
    "notes": "description",
    "notizen": "description",
    "tags": "tags",
    "labels": "tags",
    "responsible": "responsible",
    "verantwortlich": "responsible",
    "owner": "responsible",
    "assigned to": "responsible",
    "contact": "contact",
    "contact id": "contact",
    "kontakt": "contact",
    "contact email": "contact",
}
_OTHER_ENTITIES: dict[str, dict[str, str]] = {
    "deals": {
        **_COMMON,
        "deal": "title",
        "opportunity": "title",
        "amount": "amount",
        "budget": "amount",
        "value": "amount",
        "betrag": "amount",
        "currency": "currency",
        "wahrung": "currency",
        "bid type": "bid_type",
        "periods": "periods",
        "expected close date": "expected_close_date",
        "close date": "expected_close_date",
        "abschlussdatum": "expected_close_date",
        "stage": "stage",
        "phase": "stage",
        "probability": "probability",
        "wahrscheinlichkeit": "probability",
    },
    "tasks": {
        **_COMMON,
        "task": "title",
        "aufgabe": "title",
        "due at": "due_at",
        "due": "due_at",
        "due date": "due_at",
        "fallig": "due_at",
        "falligkeit": "due_at",
        "category": "category",
        "kategorie": "category",
        "deal id": "deal",
        "deal": "deal",
        "case id": "case",
        "case": "case",
        "reminder minutes": "remind_minutes",
        "remind minutes": "remind_minutes",
        "status": "status",
    },
    "cases": {
        **_COMMON,
        "case": "title",
        "event": "title",
        "veranstaltung": "title",
        "members": "members",
        "participants": "members",
        "member ids": "members",
        "teilnehmer": "members",
        "closed": "closed",
        "geschlossen": "closed",
    },
}


def suggest(
    entity: ImportEntity,
    header: Sequence[str],
    samples: Sequence[Sequence[str]] = (),
    custom_fields: Iterable[FieldRef] = (),
) -> list[ColumnMapping]:
    """The mapping a user is offered for a file with these column names."""
    by_label = {fold(f.label): f for f in custom_fields}
    custom: dict[int, ColumnMapping] = {}
    plain_header = []
    for column, name in enumerate(header):
        text = name.strip()
        if text.lower().endswith(CUSTOM_SUFFIX):
            field = by_label.get(fold(text[: -len(CUSTOM_SUFFIX)]))
            if field is not None:
                custom[column] = ColumnMapping(column=column, field="custom_field", custom_field_id=field.id)
            plain_header.append("")
            continue
        plain_header.append(text)
    if entity == ImportEntity.CONTACTS:
        known = _contact_mapping(plain_header, samples)
    else:
        table = _OTHER_ENTITIES[entity.value]
        known = []
        for column, name in enumerate(plain_header):
            words = tokens(name)
            target = table.get(" ".join(words)) or table.get(_plain(words))
            if target is not None:
                known.append(ColumnMapping(column=column, field=target))
    taken = {m.column for m in known} | set(custom)
    for column, name in enumerate(plain_header):
        field = by_label.get(fold(name)) if name else None
        if column not in taken and field is not None:
            custom[column] = ColumnMapping(column=column, field="custom_field", custom_field_id=field.id)
    return sorted([*known, *custom.values()], key=lambda m: m.column)
