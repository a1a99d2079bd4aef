"""A row's cells through the mapping: the values each field gets.

Cells lose the ``'`` this CRM's exports put before formula-like values
(domain/exports/cells.py), so an exported file reads back as it was made.
Several columns of one field are joined (names with a space, street lines
and notes with line breaks); cells of many-valued fields are split (Google
writes "a@x.de ::: b@x.de" into one cell, Outlook "Customers;VIP").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.contacts.details import DEFAULT_CATEGORY, DetailType
from chalicelib.domain.exports.cells import restore
from chalicelib.domain.imports.fields import Target, category_for
from chalicelib.domain.imports.models import ColumnMapping
from chalicelib.domain.shared.errors import FieldError, ValidationFailed

_ADDRESS_PARTS = ("street", "city", "state", "zip", "country")
_SPLIT = {
    "email": re.compile(r"\s*:::\s*|[\s,;]+"),
    "phone": re.compile(r"\s*(?::::|;)\s*"),
    "website": re.compile(r"\s*:::\s*|\s+"),
    "social": re.compile(r"\s*:::\s*|\s+"),
    "tags": re.compile(r"\s*(?::::|[,;])\s*"),
    "managers": re.compile(r"[\s,;]+"),
    "members": re.compile(r"[\s,;]+"),
}
# Google's own groups, which every contact of an export is in.
_SYSTEM_LABELS = frozenset({"mycontacts", "starred", "friends_google"})
_TRUE = frozenset({"true", "yes", "ja", "1", "x", "wahr", "y", "j", "on", "checked"})
_FALSE = frozenset({"false", "no", "nein", "0", "falsch", "n", "off", "unchecked"})
# Fields whose text is kept exactly as written (line breaks, spaces): the rest is trimmed.
VERBATIM = frozenset({"description", "note"})


@dataclass
class Values:
    scalars: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.scalars or self.lists or self.details or self.custom)

    def get(self, name: str) -> str | None:
        return self.scalars.get(name)


def read_row(cells: list[str], mapping: list[ColumnMapping], targets: dict[str, Target]) -> Values:
    def cell(index: int | None) -> str:
        return restore(cells[index]) if index is not None and index < len(cells) else ""

    values = Values()
    addresses: dict[str, dict[str, list[str]]] = {}
    address_category: dict[str, str] = {}
    for entry in mapping:
        target = targets[entry.field]
        raw = cell(entry.column)
        if not raw.strip():
            continue
        if entry.field == "custom_field" and entry.custom_field_id:
            previous = values.custom.get(entry.custom_field_id)
            values.custom[entry.custom_field_id] = f"{previous} {raw.strip()}" if previous else raw.strip()
        elif target.address_part is not None:
            group = entry.group or "main"
            addresses.setdefault(group, {}).setdefault(target.address_part, []).append(raw.strip())
            if group not in address_category:
                address_category[group] = _category(DetailType.ADDRESS, entry, cell(entry.category_column))
        elif target.detail is not None:
            category = _category(target.detail, entry, cell(entry.category_column))
            for value in split(entry.field, raw):
                values.details.append({"type": target.detail.value, "category": category, "value": value})
        elif target.many:
            values.lists.setdefault(entry.field, []).extend(split(entry.field, raw))
        else:
            text = raw if entry.field in VERBATIM else raw.strip()
            previous = values.scalars.get(entry.field)
            values.scalars[entry.field] = f"{previous}{target.join}{text}" if previous else text
    for group, parts in addresses.items():
        address = {
            part: "\n".join(parts.get(part, [])) if part == "street" else " ".join(parts.get(part, []))
            for part in _ADDRESS_PARTS
        }
        values.details.append({"type": "address", "category": address_category[group], "value": address})
    return values


def _category(detail: DetailType, entry: ColumnMapping, label: str) -> str:
    return category_for(detail, label) or entry.category or DEFAULT_CATEGORY[detail]


def split(field_name: str, raw: str) -> list[str]:
    pattern = _SPLIT.get(field_name)
    if field_name == "tags" and ":::" in raw:
        pattern = _SPLIT["phone"]  # Google's separator: then commas belong to the tags
    parts = [p.strip() for p in pattern.split(raw)] if pattern else [raw.strip()]
    if field_name == "tags":
        parts = [p for p in parts if not (p.startswith("* ") and p[2:].strip().casefold() in _SYSTEM_LABELS)]
        parts = [p[2:].strip() if p.startswith("* ") else p for p in parts]
    return list(dict.fromkeys(p for p in parts if p))


# ---- typed values ----


def invalid(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field_name, message)])


def boolean(field_name: str, raw: str) -> bool:
    text = raw.strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise invalid(field_name, f"{raw!r} is not yes/no (true, false, ja, nein, 1, 0)")


def calendar_date(field_name: str, raw: str) -> date:
    text = raw.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d.%m.%y"):
        try:
            return datetime.strptime(text[:10] if pattern == "%Y-%m-%d" else text, pattern).date()
        except ValueError:
            continue
    raise invalid(field_name, f"{raw!r} is not a date (2027-01-31 or 31.01.2027)")


def decimal_text(field_name: str, raw: str) -> str:
    """A decimal in the writing of either side of the Rhine: 1234.5, 1,234.50, 1.234,50, 1234,5."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "").replace("'", "")
    for symbol in ("€", "$", "£", "EUR", "USD", "CHF", "GBP"):
        text = text.replace(symbol, "")
    if "," in text and "." in text:  # the last one is the decimal mark
        mark = "," if text.rfind(",") > text.rfind(".") else "."
        text = text.replace("." if mark == "," else ",", "").replace(",", ".")
    elif "," in text:
        head, _, tail = text.rpartition(",")
        text = f"{head}.{tail}" if text.count(",") == 1 and len(tail) != 3 else text.replace(",", "")
    elif text.count(".") > 1:  # 1.234.567
        text = text.replace(".", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise invalid(field_name, f"{raw!r} is not an amount") from None
    if value < 0:
        raise invalid(field_name, "must not be negative")
    return format(value, "f")


def whole_number(field_name: str, raw: str) -> int:
    try:
        return int(Decimal(raw.strip().replace(",", ".")))
    except (InvalidOperation, ValueError):
        raise invalid(field_name, f"{raw!r} is not a number") from None
