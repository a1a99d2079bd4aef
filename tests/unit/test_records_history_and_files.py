"""Records (HIS-1, HIS-2, CAS-3): the history of contacts, deals and cases,
their files, and the change log's diff, over in-memory twins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.contacts.models import Contact, NewContact
from chalicelib.domain.deals.models import NewDeal
from chalicelib.domain.records.changelog import change_entry, diff
from chalicelib.domain.records.files import (
    MAX_FILE_BYTES,
    NewFile,
    ParentLink,
    ascii_filename,
    normalise_content_type,
    sanitise_filename,
)
from chalicelib.domain.records.history import HistoryChanges, HistoryEvent, HistoryFilter, NewHistoryEvent
from chalicelib.domain.shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from tests.unit.conftest import START, FixedClock, Unit, UnitTenant


def contact(unit: Unit, acme: UnitTenant, by: Principal | None = None, **fields: Any) -> Contact:
    return unit.contacts.create(
        by or acme.owner, acme.record, NewContact(kind="person", first_name="Anna", last_name="Lee", **fields)
    )


def note(unit: Unit, by: Principal, parent: Contact, text: str = "Called", **fields: Any) -> HistoryEvent:
    return unit.history.create(by, "contact", parent.id, NewHistoryEvent(text=text, **fields))


def texts(unit: Unit, by: Principal, parent: Contact, **where: Any) -> list[str]:
    found = unit.history.list(by, "contact", parent.id, HistoryFilter(**where), PageRequest())
    return [e.text for e in found.items]


def uploaded(unit: Unit, by: Principal, parent: Contact, name: str = "offer.pdf", data: bytes = b"%PDF-1.7") -> str:
    upload = unit.files.create(
        by,
        NewFile(
            filename=name, content_type="application/pdf", size=len(data), parent={"kind": "contact", "id": parent.id}
        ),
    )
    unit.memory.files.upload(by.tenant_id, upload.file.id, data, "application/pdf")
    return upload.file.id


def category(unit: Unit, acme: UnitTenant, name: str) -> str:
    return next(e.id for e in unit.settings_lists.list(acme.owner, "history-categories") if e.name == name)


# ---- history ----


def test_history_is_listed_newest_first(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    for text in ("first", "second", "third"):
        note(unit, acme.owner, anna, text)
        clock.advance(minutes=1)
    assert texts(unit, acme.owner, anna) == ["third", "second", "first"]


def test_an_event_may_be_dated_back(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    note(unit, acme.owner, anna, "today")
    note(unit, acme.owner, anna, "last week", happened_at=START - timedelta(days=7))
    assert texts(unit, acme.owner, anna) == ["today", "last week"]


def test_a_time_is_kept_to_the_millisecond_in_utc(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    moment = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert note(unit, acme.owner, anna, happened_at=moment).happened_at == moment.replace(microsecond=123000)


def test_history_filters_by_kind_author_and_category(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = contact(unit, acme, access="shared_read")
    note(unit, acme.owner, anna, "owner's call", kind="call", category_id=category(unit, acme, "Phone call"))
    note(unit, ann, anna, "ann's note")
    assert texts(unit, acme.owner, anna, kind="call") == ["owner's call"]
    assert texts(unit, acme.owner, anna, author_id=ann.user_id) == ["ann's note"]
    assert texts(unit, acme.owner, anna, category_id=category(unit, acme, "Phone call")) == ["owner's call"]


def test_history_filters_by_time_inclusive(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    for day in range(1, 5):
        note(unit, acme.owner, anna, f"day {day}", happened_at=datetime(2026, 2, day, 12, tzinfo=UTC))
    where = {"from": datetime(2026, 2, 2, 12, tzinfo=UTC), "to": datetime(2026, 2, 3, 12, tzinfo=UTC)}
    assert texts(unit, acme.owner, anna, **where) == ["day 3", "day 2"]


def test_a_filter_from_after_to_is_refused() -> None:
    with pytest.raises(ValidationError, match="after"):
        HistoryFilter.model_validate({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"})


def test_a_filter_takes_a_plus_offset_that_arrived_as_a_space() -> None:
    where = HistoryFilter.model_validate({"from": "2026-03-02T10:00:00 01:00"})
    assert where.happened_from == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_reader_of_a_contact_may_add_a_note(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = contact(unit, acme, ann, access="shared_read")
    assert note(unit, bob, anna).author_id == bob.user_id


def test_the_history_of_a_hidden_contact_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = contact(unit, acme, ann)
    with pytest.raises(NotFound):
        texts(unit, bob, anna)
    with pytest.raises(NotFound):
        note(unit, bob, anna)


def test_only_the_author_or_an_admin_changes_an_event(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = contact(unit, acme, ann, access="shared_read")
    event = note(unit, ann, anna)
    with pytest.raises(Forbidden):
        unit.history.update(bob, event.id, HistoryChanges(text="Mine"), expected_version=1)
    changed = unit.history.update(acme.owner, event.id, HistoryChanges(text="Fixed typo"), expected_version=1)
    assert (changed.text, changed.version, changed.author_id) == ("Fixed typo", 2, ann.user_id)


def test_an_event_change_names_the_version(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    event = note(unit, acme.owner, anna)
    unit.history.update(acme.owner, event.id, HistoryChanges(text="v2"), expected_version=1)
    with pytest.raises(PreconditionFailed):
        unit.history.update(acme.owner, event.id, HistoryChanges(text="v3"), expected_version=1)


@pytest.mark.parametrize("name", ["kind", "text", "happened_at", "file_ids"])
def test_required_event_fields_cannot_be_nulled(unit: Unit, name: str) -> None:
    acme = unit.tenant()
    event = note(unit, acme.owner, contact(unit, acme))
    with pytest.raises(ValidationFailed) as err:
        unit.history.update(acme.owner, event.id, HistoryChanges.model_validate({name: None}), expected_version=1)
    assert err.value.errors[0].field == name


def test_system_events_cannot_be_edited_but_can_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    event = unit.history.add_system_event(acme.owner, "contact", anna.id, "Merged")
    with pytest.raises(Conflict):
        unit.history.update(acme.owner, event.id, HistoryChanges(text="Edited"), expected_version=1)
    unit.history.delete(acme.owner, event.id)
    assert texts(unit, acme.owner, anna) == []


def test_system_is_not_a_kind_people_write() -> None:
    with pytest.raises(ValidationError):
        NewHistoryEvent(text="x", kind="system")


def test_an_unknown_category_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        note(unit, acme.owner, contact(unit, acme), category_id="nope")
    assert err.value.errors[0].field == "category_id"


def test_a_category_of_another_list_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    task_category = unit.settings_lists.list(acme.owner, "task-categories")[0].id
    with pytest.raises(ValidationFailed):
        note(unit, acme.owner, contact(unit, acme), category_id=task_category)


def test_a_category_used_by_an_event_cannot_be_deleted_until_the_event_goes(unit: Unit) -> None:
    acme = unit.tenant()
    call = category(unit, acme, "Phone call")
    event = note(unit, acme.owner, contact(unit, acme), category_id=call)
    with pytest.raises(Conflict):
        unit.settings_lists.delete(acme.owner, "history-categories", call)
    unit.history.delete(acme.owner, event.id)
    unit.settings_lists.delete(acme.owner, "history-categories", call)


def test_changing_an_events_category_moves_the_use(unit: Unit) -> None:
    acme = unit.tenant()
    call, mail = category(unit, acme, "Phone call"), category(unit, acme, "E-mail")
    event = note(unit, acme.owner, contact(unit, acme), category_id=call)
    unit.history.update(acme.owner, event.id, HistoryChanges(category_id=mail), expected_version=1)
    unit.settings_lists.delete(acme.owner, "history-categories", call)
    with pytest.raises(Conflict):
        unit.settings_lists.delete(acme.owner, "history-categories", mail)


def test_a_deleted_event_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    event = note(unit, acme.owner, contact(unit, acme))
    unit.history.delete(acme.owner, event.id)
    with pytest.raises(NotFound):
        unit.history.get(acme.owner, event.id)


def test_an_event_of_a_deleted_contact_is_not_found_even_for_admins(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    event = note(unit, acme.owner, anna)
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    with pytest.raises(NotFound):
        unit.history.get(acme.owner, event.id)


def test_an_event_of_another_tenant_is_not_found(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    event = note(unit, acme.owner, contact(unit, acme))
    with pytest.raises(NotFound):
        unit.history.get(globex.owner, event.id)


@pytest.mark.parametrize("event_id", ["", "../x", "a" * 65, "with space"])
def test_an_invalid_event_id_is_not_found(unit: Unit, event_id: str) -> None:
    unit.tenant()
    acme = unit.tenant("Other")
    with pytest.raises(NotFound):
        unit.history.get(acme.owner, event_id)


def test_a_deal_has_a_history_of_its_own(unit: Unit) -> None:
    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="Website"))
    unit.history.create(acme.owner, "deal", deal.id, NewHistoryEvent(text="Sent the offer"))
    found = unit.history.list(acme.owner, "deal", deal.id, HistoryFilter(), PageRequest()).items
    assert [(e.text, e.parent.kind) for e in found] == [("Sent the offer", "deal")]


def test_history_pages_newest_first(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    for n in range(5):
        note(unit, acme.owner, anna, f"n{n}")
        clock.advance(seconds=1)
    first = unit.history.list(acme.owner, "contact", anna.id, HistoryFilter(), PageRequest(limit=2))
    second = unit.history.list(acme.owner, "contact", anna.id, HistoryFilter(), PageRequest(limit=2, after=first.after))
    assert [e.text for e in first.items + second.items] == ["n4", "n3", "n2", "n1"]


# ---- files ----


def test_a_new_file_is_pending_with_a_signed_upload(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    upload = unit.files.create(
        acme.owner,
        NewFile(
            filename="Offer.PDF", content_type="Application/PDF", size=10, parent={"kind": "contact", "id": anna.id}
        ),
    )
    assert (upload.file.status, upload.file.content_type) == ("pending", "application/pdf")
    assert upload.headers == {"Content-Type": "application/pdf"} and upload.expires_in == 300


def test_a_file_is_confirmed_when_it_has_arrived(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    file_id = uploaded(unit, acme.owner, anna, data=b"12345")
    found = unit.files.get(acme.owner, file_id)
    assert (found.status, found.size) == ("uploaded", 5)


def test_a_file_not_yet_uploaded_has_no_download(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    upload = unit.files.create(
        acme.owner,
        NewFile(filename="a.pdf", content_type="application/pdf", size=10, parent={"kind": "contact", "id": anna.id}),
    )
    with pytest.raises(Conflict, match="not been uploaded"):
        unit.files.download_url(acme.owner, upload.file.id)


def test_an_empty_upload_is_discarded_with_a_reason(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    upload = unit.files.create(
        acme.owner,
        NewFile(filename="a.pdf", content_type="application/pdf", size=10, parent={"kind": "contact", "id": anna.id}),
    )
    unit.memory.files.upload(acme.id, upload.file.id, b"", "application/pdf")
    found = unit.files.get(acme.owner, upload.file.id)
    assert found.status == "pending" and found.problem is not None and "empty" in found.problem
    assert unit.memory.files.object_info(acme.id, upload.file.id) is None


def test_an_upload_of_another_type_is_discarded(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    upload = unit.files.create(
        acme.owner,
        NewFile(filename="a.pdf", content_type="application/pdf", size=10, parent={"kind": "contact", "id": anna.id}),
    )
    unit.memory.files.upload(acme.id, upload.file.id, b"<html>", "text/html")
    with pytest.raises(Conflict, match="Content-Type"):
        unit.files.download_url(acme.owner, upload.file.id)


def test_a_download_names_the_file_in_ascii(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    file_id = uploaded(unit, acme.owner, anna, name="Angebot Müller.pdf")
    assert "filename=Angebot Muller.pdf" in unit.files.download_url(acme.owner, file_id)


def test_files_larger_than_ten_megabytes_are_refused(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    with pytest.raises(PayloadTooLarge):
        unit.files.create(
            acme.owner,
            NewFile(
                filename="a.pdf",
                content_type="application/pdf",
                size=MAX_FILE_BYTES + 1,
                parent={"kind": "contact", "id": anna.id},
            ),
        )


@pytest.mark.parametrize(
    "content_type", ["text/html", "image/svg+xml", "application/javascript", "application/x-msdownload"]
)
def test_types_a_browser_would_run_are_refused(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        normalise_content_type(content_type)


def test_a_content_type_keeps_only_a_charset() -> None:
    assert normalise_content_type('Text/Plain; Charset="UTF-8"; boundary=x') == "text/plain; charset=utf-8"
    assert normalise_content_type("text/csv; foo=bar") == "text/csv"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\ann\\offer.pdf", "offer.pdf"),
        ("../../etc/passwd", "passwd"),
        ("  report\t2026 .pdf ", "report 2026 .pdf"),
        ("a\x00b\u200b.txt", "ab.txt"),
        ("...hidden...", "hidden"),
    ],
)
def test_file_names_are_sanitised(raw: str, clean: str) -> None:
    assert sanitise_filename(raw) == clean


def test_a_long_file_name_keeps_its_extension() -> None:
    name = sanitise_filename("x" * 300 + ".docx")
    assert len(name) == 200 and name.endswith(".docx")


def test_a_name_of_only_dots_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        sanitise_filename(" ... ")


def test_an_ascii_stand_in_has_no_quotes() -> None:
    assert ascii_filename('Ang"ebot\\ Ä.pdf') == "Ang_ebot_ A.pdf"
    assert ascii_filename("Привет.pdf") == "file.pdf"


def test_files_of_a_hidden_contact_do_not_exist(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = contact(unit, acme, ann)
    file_id = uploaded(unit, ann, anna)
    with pytest.raises(NotFound):
        unit.files.get(bob, file_id)
    with pytest.raises(NotFound):
        unit.files.list_for_parent(bob, "contact", anna.id, PageRequest())


def test_a_file_cannot_be_added_to_a_hidden_contact(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = contact(unit, acme, ann)
    with pytest.raises(NotFound):
        uploaded(unit, bob, anna)


def test_a_parent_kind_is_contact_deal_or_case() -> None:
    with pytest.raises(ValidationError):
        ParentLink.of("task", "x")


def test_an_event_attaches_uploaded_files_of_its_parent(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    file_id = uploaded(unit, acme.owner, anna)
    event = note(unit, acme.owner, anna, file_ids=[file_id, file_id])
    assert event.file_ids == [file_id]


def test_an_event_cannot_attach_another_contacts_file(unit: Unit) -> None:
    acme = unit.tenant()
    anna, bob = contact(unit, acme), contact(unit, acme)
    file_id = uploaded(unit, acme.owner, bob)
    with pytest.raises(ValidationFailed) as err:
        note(unit, acme.owner, anna, file_ids=[file_id])
    assert err.value.errors[0].field == "file_ids"


def test_an_event_cannot_attach_a_file_not_uploaded_yet(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    upload = unit.files.create(
        acme.owner,
        NewFile(filename="a.pdf", content_type="application/pdf", size=10, parent={"kind": "contact", "id": anna.id}),
    )
    with pytest.raises(ValidationFailed, match="cannot be attached"):
        note(unit, acme.owner, anna, file_ids=[upload.file.id])


def test_files_of_a_parent_are_listed(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    uploaded(unit, acme.owner, anna, "a.pdf")
    uploaded(unit, acme.owner, anna, "b.pdf")
    found = unit.files.list_for_parent(acme.owner, "contact", anna.id, PageRequest()).items
    assert sorted(f.filename for f in found) == ["a.pdf", "b.pdf"]


def test_a_deleted_contact_takes_its_history_and_files(unit: Unit) -> None:
    acme = unit.tenant()
    anna = contact(unit, acme)
    file_id = uploaded(unit, acme.owner, anna)
    event = note(unit, acme.owner, anna, file_ids=[file_id])
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    unit.run_jobs()
    assert unit.memory.history.find_event(acme.id, event.id) is None
    assert unit.memory.files.find_file(acme.id, file_id) is None
    assert unit.memory.files.object_info(acme.id, file_id) is None


def test_a_merge_moves_history_and_files_to_the_survivor(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = contact(unit, acme), contact(unit, acme)
    file_id = uploaded(unit, acme.owner, dup)
    note(unit, acme.owner, dup, "Met at the fair", file_ids=[file_id])
    assert unit.memory.history.move_all(acme.id, "contact", dup.id, into.id) == 2
    assert texts(unit, acme.owner, into) == ["Met at the fair"]
    assert unit.files.get(acme.owner, file_id).parent.id == into.id


# ---- the change log's diff ----


def test_a_create_logs_every_field_with_a_value() -> None:
    changes = diff(None, {"title": "x", "empty": "", "none": None, "list": [], "n": 0})
    assert [(c.field, c.old, c.new) for c in changes] == [("n", None, 0), ("title", None, "x")]


def test_a_delete_logs_every_field_it_had() -> None:
    assert [(c.field, c.new) for c in diff({"title": "x", "none": None}, None)] == [("title", None)]


def test_audit_fields_are_no_change() -> None:
    assert diff({"version": 1, "updated_at": "a", "t": 1}, {"version": 2, "updated_at": "b", "t": 1}) == []


def test_values_compare_as_json() -> None:
    assert [c.field for c in diff({"a": 1, "b": {"x": 1, "y": 2}}, {"a": True, "b": {"y": 2, "x": 1}})] == ["a"]
    assert [c.field for c in diff({"l": [1, 2]}, {"l": [2, 1]})] == ["l"]


def test_non_json_values_are_logged_as_text() -> None:
    class Colour(Enum):
        RED = "red"

    changes = diff(None, {"d": date(2026, 3, 2), "m": Decimal("1.50"), "e": Colour.RED, "s": {"b", "a"}})
    assert {c.field: c.new for c in changes} == {"d": "2026-03-02", "m": "1.50", "e": "red", "s": ["a", "b"]}


def test_nan_cannot_be_logged() -> None:
    with pytest.raises(TypeError):
        diff(None, {"x": float("nan")})


def test_an_update_without_changes_logs_nothing() -> None:
    assert change_entry("contact", "c1", {"a": 1}, {"a": 1}, by="u", at=START) is None


def test_a_log_entry_is_for_a_known_entity() -> None:
    with pytest.raises(ValueError):
        change_entry("product", "p1", None, {"a": 1}, by="u", at=START)  # invoices have a log since issue 13


def test_only_admins_read_the_log_of_a_deleted_record(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    anna = contact(unit, acme, access="shared_read")
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    with pytest.raises(Forbidden):
        unit.changelog.for_any_record(ann, "contact", anna.id, PageRequest())
    log = unit.changelog.for_any_record(acme.owner, "contact", anna.id, PageRequest()).items
    assert [e.action.value for e in log] == ["deleted", "created"]


def test_the_log_of_a_hidden_contact_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    anna = contact(unit, acme, ann)
    with pytest.raises(NotFound):
        unit.changelog.for_record(bob, "contact", anna.id, PageRequest())
