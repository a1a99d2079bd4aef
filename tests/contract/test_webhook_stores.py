"""The webhook stores' contract, asserted of the in-memory twins and the
DynamoDB adapters alike (issue 18): conditional creates, version-checked
writes, secrets kept apart from the subscription (and sealed in the table),
delivery pages newest first and by time range."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.shared.errors import NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.webhooks.events import event_id
from chalicelib.domain.webhooks.models import Delivery, DeliveryStatus, Subscription

NOW = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        from chalicelib.storage.memory.webhooks import MemoryDeliveryStore, MemorySubscriptionStore

        yield MemorySubscriptionStore(), MemoryDeliveryStore()
    else:
        request.getfixturevalue("aws")
        from chalicelib.storage.webhooks import DynamoDeliveryStore, DynamoSubscriptionStore

        yield DynamoSubscriptionStore(), DynamoDeliveryStore()


def subscription(tenant_id: str = "t1", sid: str = "S1", **changes: Any) -> Subscription:
    values: dict[str, Any] = {
        "id": sid,
        "tenant_id": tenant_id,
        "url": "https://hooks.example.com/crm",
        "events": ["contact.created"],
        "secret_created_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        **changes,
    }
    return Subscription(**values)


def delivery(at: datetime, n: int = 0, tenant_id: str = "t1", sid: str = "S1") -> Delivery:
    eid = event_id(f"change-{n}", "contact.created", at)
    return Delivery(
        id=eid,
        tenant_id=tenant_id,
        subscription_id=sid,
        event_id=eid,
        event_type="contact.created",
        occurred_at=at,
        payload='{"id":"%s"}' % eid,
        created_at=at,
    )


def test_subscriptions_are_per_tenant_and_writes_are_conditioned_on_the_version(stores):
    subs, _ = stores
    made = subs.create(subscription(), "whsec_one")
    subs.create(subscription(sid="S2"), "whsec_two")
    subs.create(subscription(tenant_id="t2", sid="S3"), "whsec_three")
    assert [s.id for s in subs.list("t1")] == ["S1", "S2"]
    assert subs.get("t1", "S1") == made and subs.get("t2", "S1") is None
    changed = subs.update(made, made.model_copy(update={"events": ["deal.created"]}))
    assert changed.version == 2 and subs.get("t1", "S1").events == ["deal.created"]
    with pytest.raises(PreconditionFailed):
        subs.update(made, made.model_copy(update={"description": "stale"}))
    with pytest.raises(PreconditionFailed):
        subs.delete(made)
    subs.delete(changed)
    assert subs.get("t1", "S1") is None and [s.id for s in subs.list("t1")] == ["S2"]


def test_secrets_come_back_only_through_secrets_and_rotation_keeps_the_previous(stores):
    subs, _ = stores
    made = subs.create(subscription(), "whsec_first")
    assert "whsec_first" not in subs.get("t1", "S1").model_dump_json()
    assert subs.secrets("t1", "S1") == ("whsec_first", None)
    rotated = subs.update(made, made.model_copy(update={"previous_secret_until": NOW}), new_secret="whsec_second")
    assert subs.secrets("t1", "S1") == ("whsec_second", "whsec_first")
    subs.update(rotated, rotated, new_secret="whsec_third")
    assert subs.secrets("t1", "S1") == ("whsec_third", "whsec_second")


def test_the_table_never_holds_a_secret_in_clear(aws):
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.webhooks import DynamoSubscriptionStore

    subs = DynamoSubscriptionStore()
    made = subs.create(subscription(), "whsec_c2VjcmV0LXZhbHVlLW5vYm9keS1zZWVz")
    subs.update(made, made, new_secret="whsec_bmV3LXNlY3JldC1ub2JvZHktc2Vlcw==")
    dumped = repr(list(Table().scan()))
    assert "c2VjcmV0LXZhbHVlLW5vYm9keS1zZWVz" not in dumped and "bmV3LXNlY3JldC1ub2JvZHktc2Vlcw" not in dumped
    # Sealed with the server secret: another key cannot open it.
    other = DynamoSubscriptionStore(secret=b"another-server-secret")
    with pytest.raises(NotFound):
        other.secrets("t1", "S1")


def test_a_delivery_is_added_once_and_saved_on_its_version(stores):
    _, deliveries = stores
    first = delivery(NOW)
    assert deliveries.add(first) is True
    assert deliveries.add(first) is False, "the same event for the same subscription is one delivery"
    got = deliveries.get("t1", "S1", first.id)
    assert got is not None and got.payload == first.payload
    done = deliveries.save(got, got.model_copy(update={"status": DeliveryStatus.DELIVERED, "attempts": 1}))
    assert done.version == 2 and deliveries.get("t1", "S1", first.id).status == DeliveryStatus.DELIVERED
    with pytest.raises(PreconditionFailed):
        deliveries.save(got, got.model_copy(update={"attempts": 5}))
    assert deliveries.get("t2", "S1", first.id) is None and deliveries.get("t1", "S2", first.id) is None


def test_delivery_pages_are_newest_first_and_a_range_holds_what_happened_in_it(stores):
    _, deliveries = stores
    made = [delivery(NOW + timedelta(minutes=i), n=i) for i in range(5)]
    for d in made:
        deliveries.add(d)
    deliveries.add(delivery(NOW, n=99, sid="S2"))
    first = deliveries.list("t1", "S1", PageRequest(limit=3))
    assert [d.id for d in first.items] == [d.id for d in reversed(made)][:3] and first.after is not None
    rest = deliveries.list("t1", "S1", PageRequest(limit=3, after=first.after))
    assert [d.id for d in rest.items] == [made[1].id, made[0].id] and rest.after is None
    ranged = deliveries.list(
        "t1",
        "S1",
        PageRequest(limit=10),
        since=NOW + timedelta(minutes=1),
        until=NOW + timedelta(minutes=3),
        newest_first=False,
    )
    assert [d.id for d in ranged.items] == [made[1].id, made[2].id, made[3].id]
