"""The mailing stores' contract (ADM-2), asserted of the in-memory twins and the
DynamoDB adapters alike: checkpoints count once, claims are once, cancel only
while running, results page by contact and by status, suppressions are per
tenant, a second's sending slots stop at the rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.mailing.models import Mailing, MailingSettings, MailingStatus, RecipientResult, RecipientStatus
from chalicelib.domain.shared.pagination import PageRequest

NOW = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, Any]]:
    if request.param == "memory":
        from chalicelib.domain.mailing.throttle import CounterSendWindows
        from chalicelib.storage.memory.limits import MemoryRateCounters
        from chalicelib.storage.memory.mailing import MemoryMailingStore, MemorySuppressions

        yield MemoryMailingStore(), MemorySuppressions(), CounterSendWindows(MemoryRateCounters())
    else:
        request.getfixturevalue("aws")
        from chalicelib.domain.mailing.throttle import CounterSendWindows
        from chalicelib.storage.limits import DynamoRateCounters
        from chalicelib.storage.mailing import DynamoMailingStore, DynamoSuppressions

        yield DynamoMailingStore(), DynamoSuppressions(), CounterSendWindows(DynamoRateCounters())


def mailing(tenant_id: str = "t1", mailing_id: str = "M1") -> Mailing:
    return Mailing(
        id=mailing_id,
        tenant_id=tenant_id,
        created_at=NOW,
        updated_at=NOW,
        created_by="u1",
        creator_role="user",
        subject="s",
        body="b",
        contact_ids=["c1", "c2"],
        total=2,
    )


def test_create_get_and_a_checkpoint_counts_once(stores: tuple[Any, Any, Any]) -> None:
    store, _, _ = stores
    store.create(mailing())
    assert store.get("t1", "M1").status == MailingStatus.QUEUED and store.get("t2", "M1") is None
    counts = {"sent": 2, "failed": 1}
    kwargs: dict[str, Any] = {"position": {"offset": 3}, "add_counts": counts, "at": NOW}
    assert store.advance("t1", "M1", from_chunk=0, status=MailingStatus.RUNNING, **kwargs)
    assert not store.advance("t1", "M1", from_chunk=0, status=MailingStatus.RUNNING, **kwargs)  # a redelivery
    got = store.get("t1", "M1")
    assert (got.chunk, got.position, got.status) == (1, {"offset": 3}, MailingStatus.RUNNING)
    assert got.counts == {"sent": 2, "suppressed": 0, "no_address": 0, "failed": 1} and got.started_at is not None
    assert store.advance(
        "t1", "M1", from_chunk=1, position=None, add_counts={}, status=MailingStatus.DONE, at=NOW, total=3
    )
    done = store.get("t1", "M1")
    assert (done.status, done.total, done.position) == (MailingStatus.DONE, 3, None) and done.finished_at is not None


def test_cancel_only_while_queued_or_running_and_then_only_a_cancelled_checkpoint(stores: tuple[Any, Any, Any]) -> None:
    store, _, _ = stores
    store.create(mailing())
    assert store.cancel("t1", "M1", NOW)
    assert not store.cancel("t1", "M1", NOW)
    assert not store.advance(
        "t1", "M1", from_chunk=0, position=None, add_counts={"sent": 1}, status=MailingStatus.DONE, at=NOW
    )
    assert store.advance(
        "t1", "M1", from_chunk=0, position=None, add_counts={"sent": 1}, status=MailingStatus.CANCELLED, at=NOW
    )
    got = store.get("t1", "M1")
    assert got.status == MailingStatus.CANCELLED and got.counts["sent"] == 1
    store.create(mailing(mailing_id="M2"))
    store.advance("t1", "M2", from_chunk=0, position=None, add_counts={}, status=MailingStatus.DONE, at=NOW)
    assert not store.cancel("t1", "M2", NOW)
    assert not store.cancel("t2", "M1", NOW)


def test_claims_are_once_and_results_page_by_contact_and_status(stores: tuple[Any, Any, Any]) -> None:
    store, _, _ = stores
    store.create(mailing())
    for cid, status in (("c3", RecipientStatus.SENT), ("c1", RecipientStatus.FAILED), ("c2", RecipientStatus.SENT)):
        assert store.claim("t1", "M1", cid, NOW) is None
        store.finish_recipient("t1", RecipientResult(mailing_id="M1", contact_id=cid, status=status, at=NOW))
    again = store.claim("t1", "M1", "c1", NOW)
    assert again is not None and again.status == RecipientStatus.FAILED
    assert store.claim("t1", "M1", "c9", NOW) is None  # claimed, never finished: not listed
    first = store.recipients("t1", "M1", PageRequest(limit=2), None)
    rest = store.recipients("t1", "M1", PageRequest(limit=2, after=first.after), None)
    assert [r.contact_id for r in first.items + rest.items] == ["c1", "c2", "c3"] and rest.after is None
    sent = store.recipients("t1", "M1", PageRequest(limit=10), RecipientStatus.SENT)
    assert [r.contact_id for r in sent.items] == ["c2", "c3"]
    assert store.recipients("t2", "M1", PageRequest(limit=10), None).items == []
    assert [r.mailing_id for r in store.results_for_contact("t1", "c2")] == ["M1"]
    assert store.forget_contact("t1", "c2") == 1
    assert store.results_for_contact("t1", "c2") == []
    assert [r.contact_id for r in store.recipients("t1", "M1", PageRequest(limit=10), None).items] == ["c1", "c3"]


def test_settings_default_and_saved(stores: tuple[Any, Any, Any]) -> None:
    store, _, _ = stores
    assert store.settings("t1").rate_per_second == 14
    store.save_settings("t1", MailingSettings(rate_per_second=3))
    assert store.settings("t1").rate_per_second == 3 and store.settings("t2").rate_per_second == 14


def test_suppressions_are_per_tenant_and_idempotent(stores: tuple[Any, Any, Any]) -> None:
    _, suppressions, _ = stores
    suppressions.suppress("t1", "d" * 64, "unsubscribed", NOW)
    suppressions.suppress("t1", "d" * 64, "bounced", NOW)
    assert suppressions.is_suppressed("t1", "d" * 64)
    assert not suppressions.is_suppressed("t2", "d" * 64) and not suppressions.is_suppressed("t1", "e" * 64)


def test_send_windows_stop_at_the_limit_per_tenant_and_second(stores: tuple[Any, Any, Any]) -> None:
    _, _, windows = stores
    second = int(NOW.timestamp())
    assert [windows.take("t1", second, 3) for _ in range(4)] == [True, True, True, False]
    assert windows.take("t1", second + 1, 3) and windows.take("t2", second, 3)
