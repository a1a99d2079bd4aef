"""Notifications (inbox and e-mail), background jobs (chunks, checkpoints,
interruption), housekeeping sweeps and tag rename/delete jobs, over twins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.contacts.models import Contact, ContactQuery, NewContact
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.jobs.housekeeping import PurgeExpired
from chalicelib.domain.jobs.service import BackgroundJob, ChunkInterrupted, time_limit
from chalicelib.domain.notifications.service import SendNotificationEmails
from chalicelib.domain.records.tags import TagChangeChunk, renamed_tags
from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal, Role
from tests.unit.conftest import START, FixedClock, Unit, UnitTenant


def notify(unit: Unit, acme: UnitTenant, *users: Principal, subject: str = "Hello", **kw: Any) -> list[Any]:
    return unit.notifier.notify(acme.id, [u.user_id for u in users], "test", subject, "/v1/x", **kw)


def subjects(unit: Unit, who: Principal, **kw: Any) -> list[str]:
    return [n.subject for n in unit.notifier.inbox(who, PageRequest(), **kw).items]


# ---- notifications ----


def test_a_notification_lands_in_each_users_inbox_once(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    notify(unit, acme, ann, bob, ann)
    assert subjects(unit, ann) == ["Hello"] and subjects(unit, bob) == ["Hello"]


def test_the_inbox_is_newest_first(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    for subject in ("one", "two", "three"):
        notify(unit, acme, ann, subject=subject)
        clock.advance(seconds=1)
    assert subjects(unit, ann) == ["three", "two", "one"]


def test_reading_marks_once_and_unread_filters(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    first, *_ = notify(unit, acme, ann, subject="first")
    notify(unit, acme, ann, subject="second")
    read = unit.notifier.mark_read(ann, first.id)
    assert read.read_at == clock.now
    clock.advance(hours=1)
    assert unit.notifier.mark_read(ann, first.id).read_at == read.read_at  # reading again changes nothing
    assert subjects(unit, ann, unread_only=True) == ["second"]


def test_another_users_notification_does_not_exist(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    (note,) = notify(unit, acme, ann)
    with pytest.raises(NotFound):
        unit.notifier.mark_read(bob, note.id)


def test_a_notification_is_mailed_with_its_link(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    notify(unit, acme, ann, subject="Task for you")
    unit.run_jobs()
    assert [(m.to, m.subject) for m in unit.mail] == [(acme.user(ann).email, "Task for you")]
    assert "Open: https://crm.example/v1/x" in unit.mail[0].text


def test_a_redelivered_mail_job_sends_nothing_twice(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    notify(unit, acme, ann)
    (message,) = unit.queued("notifications.email")
    unit.run_jobs()
    assert unit.notifier.send_emails(SendNotificationEmails.model_validate(message)) == 0
    assert len(unit.mail) == 1


def test_deactivated_users_get_no_mail(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    notify(unit, acme, ann)
    user = acme.user(ann)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"status": UserStatus.DEACTIVATED}), expected_version=user.version
    )
    unit.run_jobs()
    assert unit.mail == []


def test_a_once_key_stores_and_mails_once(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    assert len(notify(unit, acme, ann, once_key="k", once_at=START)) == 1
    assert notify(unit, acme, ann, once_key="k", once_at=START) == []
    unit.run_jobs()
    assert len(unit.mail) == 1 and subjects(unit, ann) == ["Hello"]


def test_the_same_key_for_another_instant_is_another_notification(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    notify(unit, acme, ann, once_key="k", once_at=START)
    assert len(notify(unit, acme, ann, once_key="k", once_at=START + timedelta(hours=1))) == 1


def test_a_once_key_needs_its_instant(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValueError):
        notify(unit, acme, acme.owner, once_key="k")


def test_an_email_note_goes_into_the_mail_but_not_the_inbox(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    (note,) = notify(unit, acme, ann, email_note="secret token 123")
    unit.run_jobs()
    assert "secret token 123" in unit.mail[0].text
    assert "secret token" not in note.model_dump_json()


def test_many_recipients_are_mailed_in_batches_of_a_hundred(unit: Unit) -> None:
    acme = unit.tenant()
    ids = [f"u{n}" for n in range(150)]
    unit.notifier.notify(acme.id, ids, "test", "Hi")
    assert [len(m["notifications"]) for m in unit.queued("notifications.email")] == [100, 50]


def test_nobody_to_notify_queues_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    unit.memory.queue.take()
    assert unit.notifier.notify(acme.id, [], "test", "Hi") == []
    assert unit.queued() == []


# ---- background jobs ----


def start(unit: Unit, by: Principal, total: int = 250) -> BackgroundJob:
    return unit.background_jobs.start(by, "test.job", total)


def test_a_job_is_queued_until_a_chunk_starts(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner)
    assert (job.status, job.chunks, job.total) == ("queued", 3, 250)


def test_a_job_runs_then_is_done_when_every_chunk_has_finished(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 3)
    assert unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b", "c"], lambda key: None)
    done, failures = unit.background_jobs.get(acme.owner, job.id)
    assert (done.status, done.succeeded, done.failed, failures) == ("done", 3, 0, [])
    assert done.finished_at == clock.now


def test_a_job_of_two_chunks_is_running_after_one(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 150)
    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a"], lambda key: None)
    running, _ = unit.background_jobs.get(acme.owner, job.id)
    assert (running.status, running.finished_at) == ("running", None)


def test_failures_are_counted_and_shown(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 3)

    def work(key: str) -> dict[str, Any] | None:
        return {"id": key, "status": 404, "reason": "not_found", "detail": ""} if key == "b" else None

    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b", "c"], work)
    done, failures = unit.background_jobs.get(acme.owner, job.id)
    assert (done.succeeded, done.failed) == (2, 1)
    assert [f["id"] for f in failures] == ["b"]


def test_a_finished_chunk_delivered_again_changes_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 150)
    calls: list[str] = []
    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b"], lambda key: calls.append(key))
    assert unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b"], lambda key: calls.append(key)) is False
    assert calls == ["a", "b"]
    assert unit.background_jobs.get(acme.owner, job.id)[0].succeeded == 2


def test_an_interrupted_chunk_resumes_where_it_stopped(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 4)
    done: list[str] = []
    left = iter([100.0, 100.0, 0.0])

    with time_limit(lambda: next(left)), pytest.raises(ChunkInterrupted):
        unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b", "c", "d"], lambda key: done.append(key))
    assert done == ["a", "b"]
    assert unit.background_jobs.get(acme.owner, job.id)[0].status == "running"

    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b", "c", "d"], lambda key: done.append(key))
    assert done == ["a", "b", "c", "d"]  # a and b were not done again
    finished, _ = unit.background_jobs.get(acme.owner, job.id)
    assert (finished.status, finished.succeeded) == ("done", 4)


def test_a_chunk_that_is_not_resumable_repeats_its_items(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 2)
    done: list[str] = []
    left = iter([100.0, 0.0])
    with time_limit(lambda: next(left)), pytest.raises(ChunkInterrupted):
        unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b"], lambda key: done.append(key), resumable=False)
    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b"], lambda key: done.append(key), resumable=False)
    assert done == ["a", "a", "b"]


def test_failed_items_are_tried_again_after_an_interruption(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 2)
    tries: list[str] = []
    left = iter([100.0, 0.0])

    def failing(key: str) -> dict[str, Any] | None:
        tries.append(key)
        return {"id": key, "status": 409, "reason": "conflict", "detail": ""}

    with time_limit(lambda: next(left)), pytest.raises(ChunkInterrupted):
        unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b"], failing)
    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "b"], failing)
    assert tries == ["a", "a", "b"]
    assert unit.background_jobs.get(acme.owner, job.id)[0].failed == 2


def test_without_a_time_limit_a_chunk_runs_to_the_end(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 300)
    assert unit.background_jobs.run_chunk(acme.id, job.id, 0, [str(n) for n in range(100)], lambda key: None)


def test_repeated_keys_in_a_chunk_are_done_once(unit: Unit) -> None:
    acme = unit.tenant()
    job = start(unit, acme.owner, 2)
    calls: list[str] = []
    unit.background_jobs.run_chunk(acme.id, job.id, 0, ["a", "a", "b"], lambda key: calls.append(key))
    assert calls == ["a", "b"]


def test_a_chunk_of_an_unknown_job_does_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    assert unit.background_jobs.run_chunk(acme.id, "gone", 0, ["a"], lambda key: pytest.fail("ran")) is False


def test_a_job_is_seen_by_its_creator_and_admins_only(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob, boss = acme.add_user("ann"), acme.add_user("bob"), acme.admin()
    job = start(unit, ann)
    assert unit.background_jobs.get(ann, job.id)[0].id == job.id
    assert unit.background_jobs.get(boss, job.id)[0].id == job.id
    with pytest.raises(NotFound):
        unit.background_jobs.get(bob, job.id)


def test_a_job_of_another_tenant_does_not_exist(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    job = start(unit, acme.owner)
    with pytest.raises(NotFound):
        unit.background_jobs.get(globex.owner, job.id)


def test_a_job_of_one_item_has_one_chunk_and_of_none_too(unit: Unit) -> None:
    acme = unit.tenant()
    assert start(unit, acme.owner, 1).chunks == 1
    assert start(unit, acme.owner, 0).chunks == 1


# ---- housekeeping ----


def test_the_first_sweep_looks_back_48_hours(unit: Unit) -> None:
    unit.memory.queue.take()
    jobs = unit.housekeeping.sweep()
    assert len(jobs) == 49
    assert len(unit.queued("housekeeping.purge_expired")) == 49


def test_a_sweep_goes_on_from_the_last_checkpoint(unit: Unit, clock: FixedClock) -> None:
    unit.housekeeping.sweep()
    clock.advance(hours=3)
    hours = [job.hour for job in unit.housekeeping.sweep()]
    assert hours[0] == START.replace(minute=0) and len(hours) == 4


def test_a_paused_deployment_catches_up_at_most_two_weeks(unit: Unit, clock: FixedClock) -> None:
    unit.housekeeping.sweep()
    clock.advance(days=30)
    assert len(unit.housekeeping.sweep()) == 14 * 24 + 1


def test_a_purge_never_deletes_beyond_now(unit: Unit, clock: FixedClock) -> None:
    job = PurgeExpired(hour=START.replace(minute=0), until=START + timedelta(days=1))
    assert unit.housekeeping.purge(job) == 0


# ---- tag rename and delete ----


def contact(unit: Unit, acme: UnitTenant, by: Principal | None = None, **fields: Any) -> Contact:
    return unit.contacts.create(
        by or acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", **fields)
    )


def tags_of(unit: Unit, acme: UnitTenant, found: Contact) -> list[str]:
    return unit.contacts.get(acme.owner, found.id).tags


def test_renamed_tags_keep_their_order_and_merge_duplicates() -> None:
    assert renamed_tags(["VIP", "Lead", "Fair"], "lead", "vip") == ["VIP", "Fair"]
    assert renamed_tags(["VIP", "Lead"], "lead", None) == ["VIP"]
    assert renamed_tags(["VIP", "Lead"], "lead", "Prospect") == ["VIP", "Prospect"]


def test_a_tag_is_listed_with_the_count_the_caller_may_see(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    contact(unit, acme, ann, tags=["Fair"])
    contact(unit, acme, bob, tags=["Fair"], access="shared_read")
    counts = {t.name: t.count for t in unit.tags.list(bob, "contact", PageRequest()).items}
    assert counts["Fair"] == 1
    assert {t.name: t.count for t in unit.tags.list(acme.owner, "contact", PageRequest()).items}["Fair"] == 2


def test_renaming_a_tag_renames_it_on_every_record(unit: Unit) -> None:
    acme = unit.tenant()
    first, second = contact(unit, acme, tags=["Fair", "VIP"]), contact(unit, acme, tags=["fair"])
    renamed = unit.tags.rename(acme.owner, acme.record, "contact", "FAIR", "Expo 2026")
    assert (renamed.name, renamed.count) == ("Expo 2026", 2)  # type: ignore[union-attr]
    assert tags_of(unit, acme, first) == ["Expo 2026", "VIP"] and tags_of(unit, acme, second) == ["Expo 2026"]
    assert "Fair" not in [t.name for t in unit.tags.list(acme.owner, "contact", PageRequest()).items]


def test_renaming_onto_an_existing_tag_merges_them(unit: Unit) -> None:
    acme = unit.tenant()
    both = contact(unit, acme, tags=["Lead", "Prospect"])
    unit.tags.rename(acme.owner, acme.record, "contact", "prospect", "LEAD")
    assert tags_of(unit, acme, both) == ["Lead"]


def test_a_case_only_rename_respells_the_tag(unit: Unit) -> None:
    acme = unit.tenant()
    one = contact(unit, acme, tags=["vip"])
    unit.tags.rename(acme.owner, acme.record, "contact", "vip", "VIP")
    assert tags_of(unit, acme, one) == ["VIP"]
    assert "VIP" in [t.name for t in unit.tags.list(acme.owner, "contact", PageRequest()).items]


def test_deleting_a_tag_removes_it_everywhere(unit: Unit) -> None:
    acme = unit.tenant()
    one = contact(unit, acme, tags=["Old", "Keep"])
    assert unit.tags.delete(acme.owner, acme.record, "contact", "old") is None
    assert tags_of(unit, acme, one) == ["Keep"]
    assert unit.contacts.list(acme.owner, ContactQuery(tag="old"), PageRequest()).items == []


def test_only_admins_rename_or_delete_tags(unit: Unit) -> None:
    acme = unit.tenant()
    contact(unit, acme, tags=["Fair"])
    ann = acme.add_user("ann")
    with pytest.raises(Forbidden):
        unit.tags.rename(ann, acme.record, "contact", "Fair", "Expo")
    with pytest.raises(Forbidden):
        unit.tags.delete(ann, acme.record, "contact", "Fair")


def test_an_unknown_tag_or_entity_is_not_found(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(NotFound):
        unit.tags.rename(acme.owner, acme.record, "contact", "never used", "x")
    with pytest.raises(NotFound):
        unit.tags.list(acme.owner, "invoice", PageRequest())


def test_a_tag_on_many_records_is_renamed_by_a_job(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    import chalicelib.domain.records.tags as tags_module

    monkeypatch.setattr(tags_module, "MAX_SYNC_RECORDS", 2)
    acme = unit.tenant()
    tagged = [contact(unit, acme, tags=["Fair"]) for _ in range(3)]
    job = unit.tags.rename(acme.owner, acme.record, "contact", "fair", "Expo")
    assert isinstance(job, BackgroundJob) and job.kind == "tags.rename"
    unit.run_jobs()
    assert all(tags_of(unit, acme, c) == ["Expo"] for c in tagged)
    assert [
        t.name for t in unit.tags.list(acme.owner, "contact", PageRequest()).items if t.name in ("Fair", "Expo")
    ] == ["Expo"]


def test_a_tag_job_of_a_creator_no_longer_admin_fails_its_items(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    import chalicelib.domain.records.tags as tags_module

    monkeypatch.setattr(tags_module, "MAX_SYNC_RECORDS", 1)
    acme = unit.tenant()
    boss = acme.admin()
    tagged = [contact(unit, acme, tags=["Fair"]) for _ in range(2)]
    job = unit.tags.delete(boss, acme.record, "contact", "fair")
    assert isinstance(job, BackgroundJob)
    user = acme.user(boss)
    unit.memory.identity.update_user(user, user.model_copy(update={"role": Role.USER}), expected_version=user.version)
    unit.run_jobs()
    assert all(tags_of(unit, acme, c) == ["Fair"] for c in tagged)
    done, failures = unit.background_jobs.get(acme.owner, job.id)
    assert (done.failed, {f["status"] for f in failures}) == (2, {403})


def test_a_redelivered_tag_chunk_changes_nothing_more(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    import chalicelib.domain.records.tags as tags_module

    monkeypatch.setattr(tags_module, "MAX_SYNC_RECORDS", 1)
    acme = unit.tenant()
    tagged = [contact(unit, acme, tags=["Fair"]) for _ in range(2)]
    unit.tags.rename(acme.owner, acme.record, "contact", "fair", "Expo")
    (message,) = unit.queued("tags.change")
    unit.run_jobs()
    versions = [unit.contacts.get(acme.owner, c.id).version for c in tagged]
    unit.tags.run_chunk(TagChangeChunk.model_validate(message))
    assert [unit.contacts.get(acme.owner, c.id).version for c in tagged] == versions


def test_renaming_a_deal_tag_renames_it_on_the_deals(unit: Unit) -> None:
    from chalicelib.domain.deals.models import NewDeal

    acme = unit.tenant()
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="Website", tags=["Upsell"]))
    unit.tags.rename(acme.owner, acme.record, "deal", "upsell", "Cross-sell")
    assert unit.deals.get(acme.owner, deal.id).tags == ["Cross-sell"]


def test_deleting_a_case_tag_removes_it_from_the_cases(unit: Unit) -> None:
    from chalicelib.domain.cases.models import NewCase

    acme = unit.tenant()
    case = unit.cases.create(acme.owner, NewCase(title="Fair", tags=["2025", "Berlin"]))
    unit.tags.delete(acme.owner, acme.record, "case", "2025")
    assert unit.cases.get(acme.owner, case.id).tags == ["Berlin"]
