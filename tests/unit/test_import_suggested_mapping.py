"""IMP-1, IMP-4: the suggested mapping of real address-book exports puts
names, company, e-mail addresses, phones, addresses and notes in their
fields when it is accepted unchanged (the fixtures are files in the layouts
Google Contacts, Outlook and Excel write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.imports.csvfile import detect
from chalicelib.domain.imports.fields import CONTACT_TARGETS, DEAL_TARGETS
from chalicelib.domain.imports.headers import FieldRef, suggest
from chalicelib.domain.imports.models import ImportEntity
from chalicelib.domain.imports.rows import Values, read_row, split

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def first_row(name: str) -> tuple[Values, Any]:
    data = (FIXTURES / name).read_bytes()
    layout = detect(data, complete=True)
    mapping = suggest(ImportEntity.CONTACTS, layout.header, layout.samples)
    return read_row(layout.samples[0], mapping, CONTACT_TARGETS), layout


def details(values: Values, kind: str) -> list[tuple[str, Any]]:
    return [(d["category"], d["value"]) for d in values.details if d["type"] == kind]


def test_google_contacts() -> None:
    values, layout = first_row("google_contacts.csv")
    assert layout.dialect.encoding.name == "utf-8"
    assert (values.get("first_name"), values.get("last_name")) == ("Anna", "Müller")
    assert values.get("company") == "Müller Maschinenbau GmbH"
    assert values.get("job_title") == "CFO"
    assert values.get("description") == "Met at Hannover Messe.\nPrefers e-mail."
    assert values.lists["tags"] == ["Customers"]  # Google's own "* myContacts" is not a tag
    assert details(values, "email") == [("work", "anna.mueller@mueller-maschinenbau.de"), ("home", "anna@example.org")]
    assert details(values, "phone") == [("mobile", "+49 171 2345678"), ("work", "030 1234567")]
    assert details(values, "address") == [
        ("work", {"street": "Königstraße 1", "city": "Berlin", "state": "", "zip": "10115", "country": "Germany"})
    ]
    assert details(values, "website") == [("work", "www.mueller-maschinenbau.de")]
    # The second row: a middle name joins the first name; two addresses in one cell.
    data = (FIXTURES / "google_contacts.csv").read_bytes()
    second = read_row(layout.samples[1], suggest(ImportEntity.CONTACTS, layout.header, layout.samples), CONTACT_TARGETS)
    assert (second.get("first_name"), second.get("middle_name")) == ("John", "Paul")
    assert details(second, "email") == [("other", "john.smith@globex.example"), ("other", "jp.smith@globex.example")]
    assert data


def test_google_contacts_legacy_layout_with_bom() -> None:
    values, layout = first_row("google_contacts_legacy.csv")
    assert layout.dialect.encoding.name == "utf-8-sig"
    assert (values.get("first_name"), values.get("last_name")) == ("Jürgen", "Weber")
    assert "full_name" not in values.scalars  # "Name" repeats the given and family names
    assert values.get("company") == "Weber Logistik AG"
    assert values.get("job_title") == "Geschäftsführer"
    assert values.get("description") == "Golf partner"
    assert values.lists["tags"] == ["Partners"]
    assert details(values, "email") == [("work", "j.weber@weber-logistik.de")]
    assert details(values, "phone") == [("work", "+49 89 123456"), ("mobile", "0151 23456789")]
    assert details(values, "address") == [
        ("home", {"street": "Leopoldstr. 5", "city": "München", "state": "Bayern", "zip": "80802", "country": "DE"})
    ]


def test_outlook_english() -> None:
    values, layout = first_row("outlook_en.csv")
    assert layout.dialect.encoding.name == "windows-1252"
    assert (values.get("first_name"), values.get("last_name")) == ("Chloé", "O'Brien")
    assert values.get("company") == "Initech Ltd"
    assert values.get("job_title") == "Head of Procurement"
    assert values.get("description") == "Budget owner – decides in Q3."
    assert values.lists["tags"] == ["Customers", "VIP"]
    assert details(values, "email") == [("work", "chloe.obrien@initech.example")]
    assert sorted(details(values, "phone")) == [
        ("fax", "+353 1 234 5679"),
        ("mobile", "+353 87 123 4567"),
        ("work", "+353 1 234 5678"),
    ]
    assert details(values, "address") == [
        (
            "work",
            {
                "street": "1 Main Street\nSuite 400",
                "city": "Dublin",
                "state": "",
                "zip": "D02 XY45",
                "country": "Ireland",
            },
        )
    ]
    assert details(values, "website") == [("work", "http://initech.example")]


def test_outlook_german() -> None:
    values, layout = first_row("outlook_de.csv")
    assert layout.dialect.encoding.name == "windows-1252"
    assert (values.get("first_name"), values.get("last_name")) == ("Sabine", "Größer")
    assert values.get("company") == "Größer & Söhne KG"
    assert values.get("job_title") == "Einkaufsleiterin"
    assert values.get("description") == "Rückruf wegen Angebot „Frühjahr“ – bis 15.3."
    assert values.lists["tags"] == ["Kunde"]
    assert details(values, "email") == [("work", "s.groesser@groesser-soehne.de")]
    assert sorted(details(values, "phone")) == [
        ("fax", "0221 123457"),
        ("mobile", "0171 9876543"),
        ("work", "0221 123456"),
    ]
    assert details(values, "address") == [
        (
            "work",
            {
                "street": "Hauptstraße 12\nHinterhaus",
                "city": "Köln",
                "state": "",
                "zip": "50667",
                "country": "Deutschland",
            },
        ),
        ("home", {"street": "Am Weiher 3", "city": "Bergisch Gladbach", "state": "", "zip": "51465", "country": ""}),
    ]
    assert details(values, "website") == [("work", "www.groesser-soehne.de")]


def test_excel_german_semicolons() -> None:
    values, layout = first_row("excel_de.csv")
    assert (layout.dialect.delimiter, layout.dialect.encoding.name) == (";", "iso-8859-1")
    assert (values.get("first_name"), values.get("last_name")) == ("Klaus", "Bäcker")
    assert values.get("company") == "Bäckerei Bäcker"
    assert values.get("description") == "Liefert mittwochs\r\nBitte vorher anrufen"
    assert values.get("external_id") == "K-1001"
    assert details(values, "email") == [("work", "klaus@baeckerei-baecker.de")]
    assert details(values, "phone") == [("work", "0711 / 123 45-6"), ("mobile", "0160 1234567")]
    assert details(values, "address") == [
        ("work", {"street": "Marktplatz 1", "city": "Stuttgart", "state": "", "zip": "70173", "country": "DE"})
    ]


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    values, layout = first_row("excel_unicode.txt")
    assert (layout.dialect.delimiter, layout.dialect.encoding.name) == ("\t", "utf-16")
    assert (values.get("first_name"), values.get("last_name"), values.get("company")) == (
        "Søren",
        "Ørsted",
        "Nordisk Energi A/S",
    )
    assert details(values, "address")[0][1]["city"] == "København"
    assert values.get("description") == "Wind farms; Øresund"


def test_headers_naming_custom_fields_map_to_them() -> None:
    fields = [FieldRef("F1", "Birthday", "person"), FieldRef("F2", "Notes", "contact")]
    mapping = suggest(ImportEntity.CONTACTS, ["First Name", "Birthday", "Notes (custom field)", "Notes"], [], fields)
    assert [(m.field, m.custom_field_id) for m in mapping] == [
        ("first_name", None),
        ("custom_field", "F1"),
        ("custom_field", "F2"),
        ("description", None),
    ]


def test_a_headerless_file_gets_its_emails_and_phones_by_their_values() -> None:
    layout = detect(b"anna@example.org,+49 30 123456,Anna\nbob@example.org,+49 30 654321,Bob\n", complete=True)
    mapping = suggest(ImportEntity.CONTACTS, layout.header, layout.samples)
    assert [(m.column, m.field) for m in mapping] == [(0, "email"), (1, "phone")]


def test_deal_headers() -> None:
    mapping = suggest(
        ImportEntity.DEALS, ["Title", "Amount", "Currency", "Stage", "Contact ID", "Tags", "Whatever"], []
    )
    assert [m.field for m in mapping] == ["title", "amount", "currency", "stage", "contact", "tags"]
    assert all(m.field in DEAL_TARGETS for m in mapping)


@pytest.mark.parametrize(
    ("field", "raw", "parts"),
    [
        ("email", "a@x.de ::: b@x.de", ["a@x.de", "b@x.de"]),
        ("email", "a@x.de; b@x.de, c@x.de", ["a@x.de", "b@x.de", "c@x.de"]),
        ("phone", "+49 30 1 ::: +49 30 2", ["+49 30 1", "+49 30 2"]),
        ("tags", "* myContacts ::: Friends ::: A, B", ["Friends", "A, B"]),
        ("tags", "Customers;VIP", ["Customers", "VIP"]),
        ("tags", "starred", ["starred"]),
    ],
)
def test_cells_with_several_values(field: str, raw: str, parts: list[str]) -> None:
    assert split(field, raw) == parts
