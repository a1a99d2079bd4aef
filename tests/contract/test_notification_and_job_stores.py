"""The notification, mailer, queue, background job and expiring-items ports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.identity.models import StoredToken, TokenKind
from chalicelib.domain.jobs.service import BackgroundJob
from chalicelib.domain.notifications.service import Notification
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.pagination import PageRequest
from tests.contract.conftest import NOW, Stores, walk


def test_inboxes_are_per_user_newest_first_and_each_notification_exists_once(stores: Stores) -> None:
    acme, owner = stores.tenant()

    def notification(user_id: str, subject: str) -> Notification:
        return Notification(
            id=new_id(), tenant_id=acme.id, user_id=user_id, kind="k", subject=subject, created_at=NOW, updated_at=NOW
        )

    mine = [notification(owner.user_id, f"n{n}") for n in range(3)]
    stores.notifications.add_notifications([*mine, notification("someone-else", "theirs")])
    with pytest.raises(Conflict):  # an id exists once (the notifier's once-only key)
        stores.notifications.add_notifications([notification(owner.user_id, "new"), mine[0]])
    inbox = walk(lambda page: stores.notifications.list_notifications(acme.id, owner.user_id, page), 2)
    assert [n.subject for n in inbox] == ["n2", "n1", "n0"]  # the refused batch added nothing

    read = stores.notifications.mark_read(acme.id, owner.user_id, mine[1].id, NOW)
    assert read.read_at is not None and read.version == 2
    unread = stores.notifications.list_notifications(acme.id, owner.user_id, PageRequest(), unread_only=True)
    assert [n.subject for n in unread.items] == ["n2", "n0"]
    stores.notifications.mark_emailed(acme.id, owner.user_id, mine[0].id, NOW)
    emailed = stores.notifications.get_notification(acme.id, owner.user_id, mine[0].id)
    assert emailed is not None and emailed.emailed_at is not None and emailed.version == 1
    with pytest.raises(NotFound):
        stores.notifications.mark_read(acme.id, owner.user_id, "missing", NOW)
    with pytest.raises(NotFound):
        stores.notifications.mark_emailed(acme.id, "someone-else", mine[0].id, NOW)


def test_mail_and_queue_deliver_what_was_handed_to_them(stores: Stores) -> None:
    stores.mailer.send(to="ann@acme.example", subject="Hello", text="Hi Ann")
    assert stores.sent_mail() == [("ann@acme.example", "Hello")]
    stores.queue.send({"kind": "a", "n": 1})
    stores.queue.send_many({"kind": "b", "n": n} for n in range(12))  # more than one SQS batch
    received = stores.received()
    assert sorted((m["kind"], m["n"]) for m in received) == [("a", 1), *(("b", n) for n in range(12))]


def test_a_job_counts_each_chunk_once_and_resumes_a_chunk(stores: Stores) -> None:
    acme, owner = stores.tenant()
    job = BackgroundJob(
        id=new_id(), tenant_id=acme.id, kind="k", created_by=owner.user_id, created_at=NOW, total=3, chunks=2
    )
    stores.jobs.create(job, NOW + timedelta(days=30))
    with pytest.raises(Conflict):
        stores.jobs.create(job, NOW + timedelta(days=30))
    stores.jobs.mark_started(acme.id, job.id, NOW)
    stores.jobs.mark_started(acme.id, job.id, NOW + timedelta(hours=1))  # the first stamp stays
    stores.jobs.record_success(acme.id, job.id, 0, "a", NOW + timedelta(days=30))
    stores.jobs.record_success(acme.id, job.id, 0, "a", NOW + timedelta(days=30))
    assert stores.jobs.chunk_progress(acme.id, job.id, 0) == {"a"}

    failure = {"id": "b", "status": 404, "reason": "not_found", "detail": "gone"}
    expiry = NOW + timedelta(days=30)
    assert stores.jobs.finish_chunk(acme.id, job.id, 0, succeeded=1, failures=[failure], at=NOW, expires_at=expiry)
    assert not stores.jobs.finish_chunk(acme.id, job.id, 0, succeeded=1, failures=[failure], at=NOW, expires_at=expiry)
    assert stores.jobs.chunk_finished(acme.id, job.id, 0) and not stores.jobs.chunk_finished(acme.id, job.id, 1)
    stores.jobs.finish_job(acme.id, job.id, NOW)  # not yet: one chunk is left
    half = stores.jobs.get(acme.id, job.id)
    assert half is not None and half.started_at == NOW and half.finished_at is None and half.chunks_done == 1

    assert stores.jobs.finish_chunk(acme.id, job.id, 1, succeeded=1, failures=[], at=NOW, expires_at=expiry)
    stores.jobs.finish_job(acme.id, job.id, NOW + timedelta(minutes=1))
    stores.jobs.finish_job(acme.id, job.id, NOW + timedelta(minutes=2))
    done = stores.jobs.get(acme.id, job.id)
    assert done is not None and (done.succeeded, done.failed, done.status) == (2, 1, "done")
    assert done.finished_at == NOW + timedelta(minutes=1)
    assert stores.jobs.failures(acme.id, job.id, 10) == [failure]
    assert stores.jobs.get("other-tenant", job.id) is None
    with pytest.raises(Conflict):  # a chunk of a job that is gone
        stores.jobs.finish_chunk(acme.id, "gone", 0, succeeded=1, failures=[], at=NOW, expires_at=expiry)


def test_expired_items_go_in_their_hour_and_not_before(stores: Stores) -> None:
    acme, owner = stores.tenant()
    expires = NOW + timedelta(minutes=30)
    token = StoredToken(
        id=new_id(),
        tenant_id=acme.id,
        user_id=owner.user_id,
        kind=TokenKind.SESSION,
        secret_hash="h",
        expires_at=expires,
        created_at=NOW,
        updated_at=NOW,
    )
    stores.identity.put_token(token)
    assert stores.expiring.last_sweep() is None
    stores.expiring.record_sweep(NOW)
    assert stores.expiring.last_sweep() == NOW

    hour = NOW.replace(minute=0)
    assert stores.expiring.delete_expired(hour, expires - timedelta(seconds=1)) == 0  # not expired yet
    assert stores.expiring.delete_expired(hour - timedelta(hours=1), expires) == 0  # another hour
    assert stores.identity.get_token(acme.id, owner.user_id, token.id) == token
    assert stores.expiring.delete_expired(hour, expires + timedelta(seconds=1)) == 1
    assert stores.identity.get_token(acme.id, owner.user_id, token.id) is None
    assert stores.expiring.delete_expired(hour, expires + timedelta(seconds=1)) == 0
