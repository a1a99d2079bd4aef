"""Contact work that must survive redelivery and concurrency: bulk job chunks
run twice, a bulk change racing another edit, and a merge sent again after it
stopped half-way."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.contacts.bulk import BulkRequest, BulkResult, ContactBulkChunk
from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import Contact, ContactChanges, NewContact
from chalicelib.domain.identity.models import CrmAccess
from chalicelib.domain.jobs.service import BackgroundJob
from chalicelib.domain.records.history import HistoryFilter, NewHistoryEvent
from chalicelib.domain.shared.errors import NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest
from tests.unit.conftest import Unit, UnitTenant


def person(unit: Unit, acme: UnitTenant, last: str = "B", **fields: Any) -> Contact:
    return unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name=last, **fields)
    )


def big_request(action: str, ids: list[str], **fields: Any) -> BulkRequest:
    padding = [f"missing-{n}" for n in range(101 - len(ids))]  # over the synchronous limit
    return BulkRequest(action=action, ids=[*ids, *padding], **fields)


def test_a_redelivered_delete_chunk_does_not_report_its_deleted_contacts_as_missing(
    unit: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = unit.tenant()
    mine = [person(unit, acme, f"N{n}").id for n in range(3)]
    job = unit.contact_bulk.submit(acme.owner, acme.record, big_request("delete", mine))
    assert isinstance(job, BackgroundJob)
    (chunk, *_rest) = unit.queued("contacts.bulk")
    message = ContactBulkChunk.model_validate(chunk)
    # The first delivery dies after the first two items: their successes are recorded.
    done = 0
    original = unit.contact_bulk.apply

    def dying(*args: Any) -> Any:
        nonlocal done
        if done == 2:
            raise RuntimeError("the Lambda timed out")
        done += 1
        return original(*args)

    monkeypatch.setattr(unit.contact_bulk, "apply", dying)
    with pytest.raises(RuntimeError):
        unit.contact_bulk.run_chunk(message)
    monkeypatch.setattr(unit.contact_bulk, "apply", original)
    unit.run_jobs()
    finished, failures = unit.background_jobs.get(acme.owner, job.id)
    assert (finished.status, finished.succeeded) == ("done", 3)
    assert all(f["id"].startswith("missing-") for f in failures)


def test_a_bulk_job_of_a_user_who_lost_module_access_fails_with_403(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    mine = unit.contacts.create(ann, acme.record, NewContact(kind="person", first_name="A", last_name="B"))
    job = unit.contact_bulk.submit(ann, acme.record, big_request("add_tags", [mine.id], tags=["X"]))
    assert isinstance(job, BackgroundJob)
    unit.crm_access.put(acme.owner, CrmAccess(restricted=True), expected_version=None)
    unit.run_jobs()
    _, failures = unit.background_jobs.get(acme.owner, job.id)
    assert {f["status"] for f in failures} == {403}
    assert unit.contacts.get(acme.owner, mine.id).tags == []


def test_a_bulk_change_racing_another_edit_is_tried_again(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)
    original = unit.contacts.update
    raced: list[bool] = []

    def racing(
        principal: Any, tenant: Any, contact_id: str, changes: ContactChanges, *, expected_version: int
    ) -> Contact:
        if not raced:  # someone else edits between the bulk's read and its write
            raced.append(True)
            original(principal, tenant, contact_id, ContactChanges(job_title="CEO"), expected_version=expected_version)
        return original(principal, tenant, contact_id, changes, expected_version=expected_version)

    monkeypatch.setattr(unit.contacts, "update", racing)
    result = unit.contact_bulk.submit(
        acme.owner, acme.record, BulkRequest(action="add_tags", tags=["X"], ids=[anna.id])
    )
    assert isinstance(result, BulkResult) and result.succeeded == [anna.id]
    after = unit.contacts.get(acme.owner, anna.id)
    assert (after.tags, after.job_title) == (["X"], "CEO")  # both changes kept


def test_a_bulk_change_that_keeps_losing_the_race_is_a_conflict(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = unit.tenant()
    anna = person(unit, acme)

    def always_stale(*args: Any, **kwargs: Any) -> Contact:
        raise PreconditionFailed("changed meanwhile")

    monkeypatch.setattr(unit.contacts, "update", always_stale)
    result = unit.contact_bulk.submit(
        acme.owner, acme.record, BulkRequest(action="add_tags", tags=["X"], ids=[anna.id])
    )
    assert isinstance(result, BulkResult)
    assert [(f["id"], f["status"], f["reason"]) for f in result.failed] == [(anna.id, 409, "conflict")]


def test_a_merge_sent_again_after_stopping_half_way_completes_it(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = unit.tenant()
    into = person(unit, acme, tags=["Lead"])
    dup = person(unit, acme, job_title="CEO", tags=["VIP"])
    unit.history.create(acme.owner, "contact", dup.id, NewHistoryEvent(text="Met at the fair"))
    original = unit.contacts.delete

    def dies(*args: Any, **kwargs: Any) -> Contact:
        raise RuntimeError("timed out before deleting")

    monkeypatch.setattr(unit.contacts, "delete", dies)
    with pytest.raises(RuntimeError):
        unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    monkeypatch.setattr(unit.contacts, "delete", original)

    survivor = unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert (survivor.job_title, survivor.tags) == ("CEO", ["Lead", "VIP"])
    with pytest.raises(NotFound):
        unit.contacts.get(acme.owner, dup.id)
    texts = [e.text for e in unit.history.list(acme.owner, "contact", into.id, HistoryFilter(), PageRequest()).items]
    assert texts.count("Met at the fair") == 1


def test_a_merge_records_one_history_event_on_the_survivor(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = person(unit, acme), person(unit, acme, "C")
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    events = unit.history.list(acme.owner, "contact", into.id, HistoryFilter(), PageRequest()).items
    assert [e.kind.value for e in events] == ["system"]
    assert events[0].text == f"Merged A C ({dup.id}) into this contact."
