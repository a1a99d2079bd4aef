"""IMP-1..4 end to end on moto: files in real layouts imported with the
suggested mapping through the imports queue, duplicates by every match key,
update in place that keeps history, retries of a chunk, cancellation, dry
runs, nasty files, access and tenants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.imports import service as import_service
from tests.conftest import Api, Tenant, bearer
from tests.import_helpers import contacts, csv_bytes, errors_report, run_import, start, upload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def person(api: Api, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    status, body, _ = api.call("POST", "/v1/contacts", {"kind": "person", **fields}, headers=headers)
    assert status == 201, body
    return body


def by_name(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["display_name"]: c for c in found}


def values(contact: dict[str, Any], kind: str) -> list[tuple[str, Any]]:
    return [(d["category"], d["value"]) for d in contact["details"] if d["type"] == kind]


@pytest.mark.parametrize(
    ("fixture", "name", "company", "email", "phone", "city", "note"),
    [
        (
            "google_contacts.csv",
            "Anna Müller",
            "Müller Maschinenbau GmbH",
            ("work", "anna.mueller@mueller-maschinenbau.de"),
            ("mobile", "+491712345678"),
            "Berlin",
            "Met at Hannover Messe.\nPrefers e-mail.",
        ),
        (
            "google_contacts_legacy.csv",
            "Jürgen Weber",
            "Weber Logistik AG",
            ("work", "j.weber@weber-logistik.de"),
            ("mobile", "+4915123456789"),
            "München",
            "Golf partner",
        ),
        (
            "outlook_en.csv",
            "Chloé O'Brien",
            "Initech Ltd",
            ("work", "chloe.obrien@initech.example"),
            ("mobile", "+353871234567"),
            "Dublin",
            "Budget owner – decides in Q3.",
        ),
        (
            "outlook_de.csv",
            "Sabine Größer",
            "Größer & Söhne KG",
            ("work", "s.groesser@groesser-soehne.de"),
            ("mobile", "+491719876543"),
            "Köln",
            "Rückruf wegen Angebot „Frühjahr“ – bis 15.3.",
        ),
        (
            "excel_de.csv",
            "Klaus Bäcker",
            "Bäckerei Bäcker",
            ("work", "klaus@baeckerei-baecker.de"),
            ("mobile", "+491601234567"),
            "Stuttgart",
            "Liefert mittwochs\r\nBitte vorher anrufen",
        ),
        (
            "excel_unicode.txt",
            "Søren Ørsted",
            "Nordisk Energi A/S",
            ("work", "soren@nordisk.example"),
            ("mobile", "+4520123456"),
            "København",
            "Wind farms; Øresund",
        ),
    ],
)
def test_address_book_exports_land_in_the_right_fields_with_the_suggested_mapping(
    api: Api,
    tenant: Tenant,
    run_queues: Any,
    fixture: str,
    name: str,
    company: str,
    email: tuple[str, str],
    phone: tuple[str, str],
    city: str,
    note: str,
) -> None:
    owner = bearer(tenant.owner_token)
    status = run_import(api, owner, run_queues, (FIXTURES / fixture).read_bytes())
    assert status["status"] == "done" and status["counts"]["failed"] == 0, status
    found = by_name(contacts(api, owner))
    contact = found[name]
    assert contact["company_name"] == company
    assert found[company]["kind"] == "company"  # created once for the person's company name
    assert contact["company_id"] == found[company]["id"]
    assert email in values(contact, "email")
    assert phone in values(contact, "phone")
    assert any(v["city"] == city for _, v in values(contact, "address"))
    assert contact["description"] == note


def test_duplicates_by_email_are_skipped_case_insensitively_also_inside_the_file(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    existing = person(
        api, owner, first_name="Eva", last_name="Schäfer", details=[{"type": "email", "value": "eva@example.de"}]
    )
    data = csv_bytes(
        [
            ["First Name", "Last Name", "E-mail"],
            ["Eva", "Schaefer", "EVA@Example.DE"],
            ["Neu", "Person", "neu@example.de"],
            ["Neu", "Doppelt", "NEU@example.de"],
        ]
    )
    status = run_import(api, owner, run_queues, data)
    assert status["counts"] | {"companies_created": 0} == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 2,
        "failed": 0,
        "companies_created": 0,
    }
    found = by_name(contacts(api, owner))
    assert set(found) == {"Eva Schäfer", "Neu Person"}
    assert found["Eva Schäfer"]["version"] == existing["version"]


def test_update_in_place_keeps_the_record_its_history_and_the_old_values_in_the_change_log(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    existing = person(
        api,
        owner,
        first_name="Eva",
        last_name="Schäfer",
        job_title="Buyer",
        tags=["Lead"],
        details=[{"type": "phone", "value": "+49 30 1234567"}],
    )
    status, note, _ = api.call(
        "POST", f"/v1/contacts/{existing['id']}/history", {"kind": "note", "text": "Called in May"}, headers=owner
    )
    assert status == 201, note
    data = csv_bytes(
        [
            ["Vorname", "Nachname", "Telefon", "Position", "Kategorien", "Notizen", "E-Mail"],
            ["Eva", "Schäfer", "030 1234567", "Head of Purchasing", "Customer", "", "eva@example.de"],
        ]
    )
    status = run_import(api, owner, run_queues, data, match_on=["phone"], on_duplicate="update")
    assert (status["counts"]["updated"], status["counts"]["created"]) == (1, 0), status
    _, after, _ = api.call("GET", f"/v1/contacts/{existing['id']}", headers=owner)
    assert after["version"] == existing["version"] + 1
    assert after["job_title"] == "Head of Purchasing"
    assert after["tags"] == ["Lead", "Customer"]
    assert ("work", "eva@example.de") in values(after, "email")
    assert values(after, "phone") == [("work", "+49301234567")]  # the same number, not added twice
    _, history, _ = api.call("GET", f"/v1/contacts/{existing['id']}/history", headers=owner)
    assert [e["text"] for e in history["items"]] == ["Called in May"]
    _, changes, _ = api.call("GET", f"/v1/contacts/{existing['id']}/changes", headers=owner)
    latest = {c["field"]: c for c in changes["items"][0]["changes"]}
    assert (latest["job_title"]["old"], latest["job_title"]["new"]) == ("Buyer", "Head of Purchasing")
    assert len(contacts(api, owner)) == 1


def test_create_anyway_and_external_ids(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    data = csv_bytes([["Kundennummer", "Vorname", "Nachname"], ["K-1", "Ida", "Lang"], ["K-2", "Max", "Kurz"]])
    first = run_import(api, owner, run_queues, data, on_duplicate="create")
    assert first["counts"]["created"] == 2
    again = run_import(api, owner, run_queues, data, match_on=["external_id"])
    assert (again["counts"]["skipped"], again["counts"]["created"]) == (2, 0)
    renamed = csv_bytes([["Kundennummer", "Vorname", "Nachname"], ["K-1", "Ida", "Lang-Meier"]])
    updated = run_import(api, owner, run_queues, renamed, match_on=["external_id"], on_duplicate="update")
    assert updated["counts"]["updated"] == 1
    clones = run_import(api, owner, run_queues, data, on_duplicate="create")
    assert clones["counts"]["created"] == 2
    assert sorted(c["display_name"] for c in contacts(api, owner)) == [
        "Ida Lang",
        "Ida Lang-Meier",
        "Max Kurz",
        "Max Kurz",
    ]


def test_duplicates_by_name_persons_and_companies_ignoring_case_and_accents(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    """SPEC IMP-3: "same e-mail, or same name"; name is a match key a client names."""
    owner = bearer(tenant.owner_token)
    existing = person(api, owner, first_name="Jürgen", last_name="Groß")
    data = csv_bytes(
        [
            ["Full Name", "Company", "Job Title"],
            ["JURGEN GROSS", "", "Buyer"],  # the existing person, folded
            ["Groß, Jürgen", "", "Buyer"],  # the same, written the other way round
            ["Ida Lang", "", ""],
            ["ida lang", "", ""],  # an earlier row of the file
            ["", "Acme GmbH", ""],
            ["", "ACME GMBH", ""],
        ]
    )
    skipped = run_import(api, owner, run_queues, data, match_on=["name"])
    assert (skipped["counts"]["created"], skipped["counts"]["skipped"], skipped["counts"]["failed"]) == (2, 4, 0)
    assert sorted(c["display_name"] for c in contacts(api, owner)) == ["Acme GmbH", "Ida Lang", "Jürgen Groß"]
    updated = run_import(
        api, owner, run_queues, csv_bytes([["Vorname", "Nachname", "Position"], ["Jurgen", "Gross", "Head of Buying"]]),
        match_on=["name"], on_duplicate="update",
    )  # fmt: skip
    assert updated["counts"]["updated"] == 1
    found = {c["id"]: c for c in contacts(api, owner)}[existing["id"]]  # the row's values win, names included
    assert (found["display_name"], found["job_title"]) == ("Jurgen Gross", "Head of Buying")
    # Without name among the match keys, the same rows are new contacts.
    assert run_import(api, owner, run_queues, data)["counts"]["created"] == 6


def test_notes_go_to_the_history_once(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    data = csv_bytes([["E-Mail", "Vorname", "Nachname", "Gesprächsnotiz"], ["x@y.de", "Ida", "Lang", "Met at fair"]])
    mapping = [
        {"column": 0, "field": "email"},
        {"column": 1, "field": "first_name"},
        {"column": 2, "field": "last_name"},
        {"column": 3, "field": "note"},
    ]
    run_import(api, owner, run_queues, data, mapping=mapping)
    again = run_import(api, owner, run_queues, data, mapping=mapping, on_duplicate="update")
    assert again["counts"]["unchanged"] == 1
    contact = contacts(api, owner)[0]
    _, history, _ = api.call("GET", f"/v1/contacts/{contact['id']}/history", headers=owner)
    assert [(e["kind"], e["text"]) for e in history["items"]] == [("note", "Met at fair")]


def test_a_chunk_that_dies_half_way_creates_nothing_twice_when_redelivered(
    api: Api, tenant: Tenant, run_queues: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.storage.contacts import store as contacts_storage

    monkeypatch.setattr(import_service, "CHUNK_ROWS", 40)
    owner = bearer(tenant.owner_token)
    rows = [["Vorname", "Nachname", "E-Mail"]] + [[f"P{n}", "Lang", f"p{n}@x.de"] for n in range(100)]
    import_id = upload(api, owner, csv_bytes(rows))
    start(api, owner, import_id)
    create = contacts_storage.ContactStore.create
    calls: list[str] = []

    def dies_at_the_55th(self: Any, record: Any, **kwargs: Any) -> Any:
        created = create(self, record, **kwargs)
        calls.append(record.id)
        if len(calls) == 55:
            raise RuntimeError("the Lambda died")  # after the write, before the chunk's checkpoint
        return created

    monkeypatch.setattr(contacts_storage.ContactStore, "create", dies_at_the_55th)
    outcome = run_queues()
    assert len(outcome["failures"]) == 1  # the second chunk, once; SQS delivered it again
    status, record, _ = api.call("GET", f"/v1/imports/{import_id}", headers=owner)
    assert (record["status"], record["counts"]["created"], record["rows"]) == ("done", 100, 100)
    assert len(calls) == 100, "each contact written once"
    names = [c["first_name"] for c in contacts(api, owner)]
    assert len(names) == 100 and len(set(names)) == 100


def test_cancelling_a_running_import(
    api: Api, tenant: Tenant, run_queues: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 10)
    owner = bearer(tenant.owner_token)
    rows = [["Vorname", "Nachname"]] + [[f"P{n}", "Lang"] for n in range(50)]
    import_id = upload(api, owner, csv_bytes(rows))
    start(api, owner, import_id)
    run_queues(limit=2)
    status, cancelled, _ = api.call("POST", f"/v1/imports/{import_id}/cancel", headers=owner)
    assert status == 200 and cancelled["status"] == "cancelled"
    run_queues()
    _, record, _ = api.call("GET", f"/v1/imports/{import_id}", headers=owner)
    assert record["status"] == "cancelled" and record["counts"]["created"] == len(contacts(api, owner)) < 50
    assert record["errors_url"] is not None


def test_a_dry_run_writes_nothing_and_still_sees_duplicates_across_chunks(
    api: Api, tenant: Tenant, run_queues: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 3)
    owner = bearer(tenant.owner_token)
    person(api, owner, first_name="Eva", last_name="Alt", details=[{"type": "email", "value": "eva@x.de"}])
    rows = [["Vorname", "Nachname", "E-Mail", "Firma"]] + [[f"P{n}", "Lang", f"p{n}@x.de", "Acme"] for n in range(5)]
    rows += [["Again", "Lang", "P1@x.de", ""], ["Eva", "Alt", "eva@x.de", ""], ["No", "Mail", "", "Acme"]]
    status = run_import(api, owner, run_queues, csv_bytes(rows), dry_run=True)
    assert status["dry_run"] is True
    assert status["counts"] == {
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "skipped": 2,
        "failed": 0,
        "companies_created": 1,
    }
    assert [c["display_name"] for c in contacts(api, owner)] == ["Eva Alt"]


def test_nasty_rows_fail_alone_with_their_reason_and_every_good_row_is_imported(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    text = (
        "Vorname;Nachname;E-Mail;Telefon;Notizen\r\n"
        "Anna;Gut;anna@x.de;030 123456;ok\r\n"
        '"Kaputt;Quote;k@x.de;;\r\n'
        "Bob;Gut;bob@x.de;;\r\n"
        "\r\n"
        ";;;;\r\n"
        "Cem;Zuviel;cem@x.de;;a;b;c\r\n"
        f"Dora;Lang;dora@x.de;;{'x' * 200_000}\r\n"
        "Emil;Telefon;emil@x.de;keine Nummer;\r\n"
        '=HYPERLINK("http://evil");Formel;f@x.de;;@SUM(A1)\r\n'
        "Greta;;greta@x.de;;\r\n"
        "Hans;Gut\r\n"
    )
    status = run_import(api, owner, run_queues, text.encode("cp1252"))
    assert status["status"] == "done"
    assert status["rows"] == 9  # blank lines and rows of empty cells are not rows
    assert (status["counts"]["created"], status["counts"]["failed"]) == (4, 5), status
    names = sorted(c["display_name"] for c in contacts(api, owner))
    assert names == ['=HYPERLINK("http://evil") Formel', "Anna Gut", "Bob Gut", "Hans Gut"]
    report = errors_report(api, owner, status["id"])
    assert report[0][:7] == ["line", "reason", "Vorname", "Nachname", "E-Mail", "Telefon", "Notizen"]
    reasons = {row[0]: row[1] for row in report[1:]}
    assert set(reasons) == {"3", "7", "8", "9", "11"}
    assert "quote" in reasons["3"]
    assert "7 cells" in reasons["7"]
    assert "description" in reasons["8"] and "10000" in reasons["8"]
    assert "phone" in reasons["9"] and "keine Nummer" in reasons["9"]
    assert "first and a last name" in reasons["11"]
    formula = next(c for c in contacts(api, owner) if c["last_name"] == "Formel")
    assert formula["first_name"] == '=HYPERLINK("http://evil")' and formula["description"] == "@SUM(A1)"


def test_only_contacts_the_importer_can_see_are_matched_and_only_writable_ones_updated(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    owner = bearer(tenant.owner_token)
    _, user_token = tenant.add_user("ulla@acme.example")
    ulla = bearer(user_token)
    person(api, owner, first_name="Pia", last_name="Privat", details=[{"type": "email", "value": "pia@x.de"}])
    person(
        api,
        owner,
        first_name="Lea",
        last_name="Lesbar",
        access="shared_read",
        details=[{"type": "email", "value": "lea@x.de"}],
    )
    data = csv_bytes([["E-Mail", "Vorname", "Nachname", "Position"], ["pia@x.de", "Pia", "Privat", "CEO"]])
    data += csv_bytes([["lea@x.de", "Lea", "Lesbar", "CFO"]])
    status = run_import(api, ulla, run_queues, data, on_duplicate="update")
    assert (status["counts"]["created"], status["counts"]["failed"]) == (1, 1), status
    report = errors_report(api, ulla, status["id"])
    assert "may not change" in report[1][1]
    assert [c["display_name"] for c in contacts(api, ulla)] == ["Lea Lesbar", "Pia Privat"]
    assert len(contacts(api, owner)) == 3  # the private one stays private, Ulla got her own


def test_imports_never_match_another_tenants_contacts(
    api: Api, tenant: Tenant, other_tenant: Tenant, run_queues: Any
) -> None:
    person(
        api,
        bearer(other_tenant.owner_token),
        first_name="Eva",
        last_name="Fremd",
        details=[{"type": "email", "value": "eva@x.de"}],
    )
    owner = bearer(tenant.owner_token)
    status = run_import(
        api, owner, run_queues, csv_bytes([["E-Mail", "Vorname", "Nachname"], ["eva@x.de", "Eva", "Eigen"]])
    )
    assert status["counts"]["created"] == 1
    assert [c["display_name"] for c in contacts(api, owner)] == ["Eva Eigen"]
    assert [c["display_name"] for c in contacts(api, bearer(other_tenant.owner_token))] == ["Eva Fremd"]


def test_default_managers_are_told_once_not_per_contact(api: Api, tenant: Tenant, run_queues: Any) -> None:
    owner = bearer(tenant.owner_token)
    user_id, user_token = tenant.add_user("mia@acme.example")
    rows = [["Vorname", "Nachname"]] + [[f"P{n}", "Lang"] for n in range(12)]
    status = run_import(
        api, owner, run_queues, csv_bytes(rows), defaults={"managers": [user_id], "tags": ["Messe 2026"]}
    )
    assert status["counts"]["created"] == 12
    _, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(user_token))
    about_contacts = [n["subject"] for n in inbox["items"] if n["kind"] == "contact.manager"]
    assert about_contacts == ["You are now a manager of 12 contacts imported from people.csv"]
    found = contacts(api, bearer(user_token))
    assert len(found) == 12 and all(c["tags"] == ["Messe 2026"] and c["managers"] == [user_id] for c in found)
    _, mine, _ = api.call("GET", "/v1/notifications", headers=owner)
    assert any("people.csv finished: 12 created" in n["subject"] for n in mine["items"])


def test_an_email_matches_exactly_and_contacts_from_before_the_exact_index_match_once_migrated(
    api: Api, tenant: Tenant, run_queues: Any
) -> None:
    from chalicelib.cli import migrate
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.indexes.contacts import email_facet

    owner = bearer(tenant.owner_token)
    old = person(api, owner, first_name="Jürgen", last_name="Alt", details=[{"type": "email", "value": "jürgen@x.de"}])
    person(api, owner, first_name="Anna", last_name="Au", details=[{"type": "email", "value": "anna@x.de.au"}])
    # What the table held before index version 3: no exact e-mail entry, an older marker.
    table = Table()
    entry = {"pk": keys.contact_facet(tenant.id, email_facet("jürgen@x.de")), "sk": old["id"]}
    assert table.get(entry) is not None
    table.write_batch(deletes=[entry])
    table.update(keys.job_state("index-version"), set={"index_version": 2}, bump_version=False, must_exist=False)
    assert migrate()["reindexed"] is True
    assert table.get(entry)["cid"] == old["id"]

    data = csv_bytes(
        [
            ["First Name", "Last Name", "E-mail"],
            ["Jürgen", "Alt", "JÜRGEN@x.de"],  # the same address, case aside: skipped
            ["Jurgen", "Neu", "jurgen@x.de"],  # another address that folds alike: a new contact
            ["Anna", "Kurz", "anna@x.de"],  # a prefix of another address: a new contact
        ]
    )
    status = run_import(api, owner, run_queues, data)
    assert (status["counts"]["skipped"], status["counts"]["created"]) == (1, 2), status
    assert set(by_name(contacts(api, owner))) == {"Jürgen Alt", "Anna Au", "Jurgen Neu", "Anna Kurz"}
