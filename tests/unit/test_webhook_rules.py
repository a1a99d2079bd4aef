"""Outgoing webhooks' rules over in-memory twins (issue 18, points 5 and 6):
which writes are which events, signatures a receiver verifies with the
Standard Webhooks library, retries with backoff then parking, replays, the
SSRF guard, the secret shown once and rotated, admins only, tenants apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.domain.shared.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.webhooks import service as webhook_service
from chalicelib.domain.webhooks.events import RECORD_EVENTS, ItemChange, event_id, events_of
from chalicelib.domain.webhooks.models import (
    EVENT_TYPES,
    DeliverWebhook,
    DeliveryStatus,
    NewSubscription,
    ReplayRange,
    ReplayWebhooks,
    SubscriptionChanges,
)
from chalicelib.domain.webhooks.ports import Answer
from chalicelib.domain.webhooks.service import (
    MAX_ATTEMPTS,
    MAX_QUEUE_DELAY,
    RETRY_DELAYS,
    ROTATION_OVERLAP,
    WebhookDispatch,
    Webhooks,
)
from chalicelib.domain.webhooks.targets import Target, parse, refusal
from chalicelib.storage.memory.webhooks import (
    MemoryDeliveryStore,
    MemoryQueue,
    MemoryResolver,
    MemorySender,
    MemorySubscriptionStore,
)

ADMIN = Principal(tenant_id="t1", user_id="admin", role=Role.ADMIN)
USER = Principal(tenant_id="t1", user_id="user", role=Role.USER)
OTHER_ADMIN = Principal(tenant_id="t2", user_id="admin2", role=Role.ADMIN)
PUBLIC = "93.184.216.34"


class Clock:
    """Real time by default (the library's verifier accepts 5 minutes of skew), movable."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class World:
    def __init__(self, *, allow_loopback: bool = False) -> None:
        self.subscriptions = MemorySubscriptionStore()
        self.deliveries = MemoryDeliveryStore()
        self.queue = MemoryQueue()
        self.resolver = MemoryResolver({"hooks.example.com": [PUBLIC]})
        self.sender = MemorySender()
        self.clock = Clock()
        self.webhooks = Webhooks(
            self.subscriptions,
            self.deliveries,
            self.queue,
            self.resolver,
            allow_loopback=allow_loopback,
            clock=self.clock,
        )
        self.dispatch = WebhookDispatch(
            self.subscriptions,
            self.deliveries,
            self.queue,
            self.resolver,
            self.sender,
            allow_loopback=allow_loopback,
            clock=self.clock,
        )
        self.changes = 0

    def subscribe(self, events: list[str], principal: Principal = ADMIN, url: str = "https://hooks.example.com/crm"):
        return self.webhooks.create(principal, NewSubscription(url=url, events=events))  # type: ignore[arg-type]

    def change(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None, tenant: str = "t1"):
        self.changes += 1
        return ItemChange(
            change_id=f"stream-{self.changes}",
            tenant_id=tenant,
            kind=kind,
            record_id="r1",
            at=self.clock(),
            old=old,
            new=new,
        )

    def run_queue(self) -> list[str]:
        """Run every queued message once (ignoring delays); what each did."""
        outcomes = []
        for message, _delay in self.queue.take():
            if message["kind"] == "webhooks.deliver":
                outcomes.append(self.dispatch.deliver(DeliverWebhook.model_validate(message)))
            else:
                outcomes.append(str(self.dispatch.replay_page(ReplayWebhooks.model_validate(message))))
        return outcomes


def contact(**values: Any) -> dict[str, Any]:
    return {"pk": "T#t1#CONTACT#r1", "sk": "META", "id": "r1", "tenant_id": "t1", "version": 1, **values}


# ---- which writes are which events ----


def test_create_update_delete_of_a_contact_and_the_old_values_of_what_changed():
    world = World()
    created = events_of(world.change("contact", None, contact(first_name="Ann", last_name="Lee")))
    assert [e.type for e in created] == ["contact.created"]
    assert created[0].new == {"first_name": "Ann", "id": "r1", "last_name": "Lee", "version": 1}
    assert created[0].old is None, "storage keys and the tenant never reach a receiver"

    updated = events_of(
        world.change(
            "contact",
            contact(first_name="Ann", last_name="Lee"),
            contact(first_name="Anna", last_name="Lee", version=2),
        )
    )
    assert [e.type for e in updated] == ["contact.updated"]
    assert updated[0].new == {"first_name": "Anna", "id": "r1", "last_name": "Lee", "version": 2}
    assert updated[0].old == {"first_name": "Ann", "version": 1}, "old values of what changed only"

    deleted = events_of(world.change("contact", contact(first_name="Anna"), None))
    assert [e.type for e in deleted] == ["contact.deleted"]
    assert deleted[0].new is None and deleted[0].old == {"first_name": "Anna", "id": "r1", "version": 1}


def test_deal_stage_change_is_its_own_event_beside_the_update():
    world = World()
    old = {"id": "r1", "stage_id": "s1", "title": "Big"}
    assert [e.type for e in events_of(world.change("deal", old, {**old, "stage_id": "s2"}))] == [
        "deal.updated",
        "deal.stage_changed",
    ]
    assert [e.type for e in events_of(world.change("deal", old, {**old, "title": "Bigger"}))] == ["deal.updated"]
    assert [e.type for e in events_of(world.change("deal", None, old))] == ["deal.created"]


def test_a_call_ends_once_and_other_call_writes_emit_nothing():
    world = World()
    ringing = {"id": "r1", "status": "ringing", "ended_at": None}
    ended = {**ringing, "status": "answered", "ended_at": "2030-01-01T10:00:00Z"}
    assert events_of(world.change("call", None, ringing)) == []
    assert [e.type for e in events_of(world.change("call", ringing, ended))] == ["call.ended"]
    assert events_of(world.change("call", ended, {**ended, "price": "0.10"})) == [], "a later price is no new end"


def test_an_invoice_status_change_is_its_own_event_beside_the_update():
    world = World()
    draft = {"id": "r1", "status": "draft", "number": None, "total": "59.97"}
    billed = {**draft, "status": "billed", "number": "INV0000001"}
    assert [e.type for e in events_of(world.change("invoice", None, draft))] == ["invoice.created"]
    [updated, status] = events_of(world.change("invoice", draft, billed))
    assert (updated.type, status.type) == ("invoice.updated", "invoice.status_changed")
    assert status.old == {"number": None, "status": "draft"} and status.new == billed
    assert [e.type for e in events_of(world.change("invoice", billed, {**billed, "notes": "x"}))] == ["invoice.updated"]
    assert [e.type for e in events_of(world.change("invoice", billed, None))] == ["invoice.deleted"]


def test_an_import_finishes_once_when_its_outcome_is_written():
    world = World()
    running = {"id": "r1", "status": "running", "offset": 10}
    assert events_of(world.change("import", None, {**running, "status": "created"})) == []
    assert events_of(world.change("import", running, {**running, "offset": 500})) == [], "a checkpoint"
    cancelled = {**running, "status": "cancelled"}
    assert events_of(world.change("import", running, cancelled)) == [], "decided, but the run has not stopped yet"
    finished = {**cancelled, "outcome": "cancelled", "finished_at": "2030-01-01T10:00:00Z"}
    [event] = events_of(world.change("import", cancelled, finished))
    assert event.type == "import.finished" and event.kind == "import" and event.new == finished
    assert events_of(world.change("import", finished, {**finished, "errors_ready": True})) == []


def test_items_of_kinds_not_in_the_table_and_unchanged_rewrites_emit_nothing():
    world = World()
    assert events_of(world.change("user", None, {"id": "u"})) == []
    assert events_of(world.change("contact", contact(a=1), contact(a=1))) == []


def test_every_event_type_a_subscription_may_name_has_a_producer_or_waits_for_its_feature():
    produced = {
        f"{s.name}.{w}" for s in RECORD_EVENTS.values() if s.lifecycle for w in ("created", "updated", "deleted")
    }
    produced |= {t.event_type for s in RECORD_EVENTS.values() for t in s.transitions}
    assert set(EVENT_TYPES) == produced
    assert produced <= set(EVENT_TYPES)


def test_the_same_stream_record_makes_the_same_event_ids():
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert event_id("abc", "contact.updated", at) == event_id("abc", "contact.updated", at)
    assert event_id("abc", "contact.updated", at) != event_id("abd", "contact.updated", at)
    assert event_id("abc", "deal.updated", at) != event_id("abc", "deal.stage_changed", at)


# ---- subscriptions: admins only, the secret shown once, tenants apart ----


def test_only_admins_manage_webhooks_and_another_tenant_finds_nothing():
    world = World()
    with pytest.raises(Forbidden):
        world.subscribe(["contact.created"], principal=USER)
    made, _ = world.subscribe(["contact.created"])
    with pytest.raises(Forbidden):
        world.webhooks.get(USER, made.id)
    with pytest.raises(NotFound):
        world.webhooks.get(OTHER_ADMIN, made.id)
    assert world.webhooks.list(OTHER_ADMIN) == []
    with pytest.raises(NotFound):
        world.webhooks.deliveries(OTHER_ADMIN, made.id, PageRequest())


def test_another_tenants_writes_never_reach_a_subscription():
    world = World()
    world.subscribe(["contact.created"])
    assert world.dispatch.on_changes([world.change("contact", None, contact(), tenant="t2")]) == 0
    assert world.sender.sent == [] and world.queue.messages == []


def test_the_secret_is_a_standard_webhooks_secret_never_part_of_the_subscription():
    world = World()
    made, secret = world.subscribe(["contact.created"])
    assert secret.startswith("whsec_")
    Webhook(secret)  # the library accepts it
    assert secret not in made.model_dump_json()
    assert secret not in world.webhooks.get(ADMIN, made.id).model_dump_json()


def test_update_needs_the_current_version():
    world = World()
    made, _ = world.subscribe(["contact.created"])
    changed = world.webhooks.update(
        ADMIN,
        made.id,
        SubscriptionChanges(events=["deal.created"]),
        expected_version=1,  # type: ignore[list-item]
    )
    assert changed.events == ["deal.created"] and changed.version == 2
    with pytest.raises(PreconditionFailed):
        world.webhooks.update(ADMIN, made.id, SubscriptionChanges(description="x"), expected_version=1)


# ---- deliveries, signed as the specification says ----


def deliver_one(world: World, events: list[str] | None = None) -> tuple[Any, str]:
    made, secret = world.subscribe(events or ["contact.updated"])
    old, new = contact(first_name="Ann"), contact(first_name="Anna", version=2)
    assert world.dispatch.on_changes([world.change("contact", old, new)]) == 1
    return made, secret


def test_a_receiver_verifies_the_delivery_with_the_librarys_verifier():
    world = World()
    _, secret = deliver_one(world)
    assert world.run_queue() == ["delivered"]
    [sent] = world.sender.sent
    assert sent.address == PUBLIC and sent.target.host == "hooks.example.com"
    body = Webhook(secret).verify(sent.body, sent.headers)
    assert body["type"] == "contact.updated" and body["id"] == sent.headers["webhook-id"]
    assert body["data"]["new"]["first_name"] == "Anna" and body["data"]["old"] == {"first_name": "Ann", "version": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(sent.body, sent.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent.body.replace(b"Anna", b"Anne"), sent.headers)


def test_an_event_goes_only_to_subscriptions_that_want_it_and_are_enabled():
    world = World()
    world.subscribe(["deal.created"])
    disabled, _ = world.subscribe(["contact.updated"])
    world.webhooks.update(ADMIN, disabled.id, SubscriptionChanges(enabled=False), expected_version=1)
    assert world.dispatch.on_changes([world.change("contact", contact(a=1), contact(a=2))]) == 0


def test_the_stream_delivering_a_record_twice_makes_one_delivery():
    world = World()
    world.subscribe(["contact.updated"])
    change = world.change("contact", contact(a=1), contact(a=2))
    world.dispatch.on_changes([change])
    assert world.run_queue() == ["delivered"]
    assert world.dispatch.on_changes([change]) == 0, "delivered already: nothing queued again"
    assert len(world.deliveries.items) == 1 and len(world.sender.sent) == 1


def test_a_batch_of_changes_reads_each_tenants_subscriptions_once():
    world = World()
    world.subscribe(["contact.updated"])
    reads: list[str] = []
    listing = world.subscriptions.list
    world.subscriptions.list = lambda tenant_id: reads.append(tenant_id) or listing(tenant_id)  # type: ignore[method-assign]
    with world.dispatch.batch():
        for n in range(5):
            world.dispatch.on_changes([world.change("contact", contact(a=n), contact(a=n + 1))])
    assert reads == ["t1"] and len(world.queue.messages) == 5
    world.dispatch.on_changes([world.change("contact", contact(a=1), contact(a=2))])
    assert reads == ["t1", "t1"], "outside a batch a new subscription counts at once"


# ---- retries with backoff for a day, then parked ----


def test_the_schedule_is_exponential_and_lasts_about_a_day():
    seconds = [d.total_seconds() for d in RETRY_DELAYS]
    assert seconds[:4] == [10, 30, 90, 270]
    assert all(b >= a for a, b in zip(seconds, seconds[1:], strict=False))
    assert max(seconds) == 6 * 3600
    last_attempt = sum(seconds)
    assert 20 * 3600 <= last_attempt <= 24 * 3600
    assert MAX_ATTEMPTS == len(RETRY_DELAYS) + 1 == 11


def test_a_failing_receiver_is_retried_with_backoff_then_parked_and_a_replay_delivers():
    world = World()
    world.sender.answer = lambda sent: Answer(503, "HTTP 503")
    made, secret = deliver_one(world)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        queued = world.queue.take()
        assert len(queued) == 1
        message, delay = queued[0]
        assert message["attempt"] == attempt
        if attempt > 1:
            wait = RETRY_DELAYS[attempt - 2]
            waits.append(wait)
            assert delay == min(wait.total_seconds(), MAX_QUEUE_DELAY)
            world.clock.advance(wait)
        outcome = world.dispatch.deliver(DeliverWebhook.model_validate(message))
        assert outcome == ("parked" if attempt == MAX_ATTEMPTS else "pending")
    assert world.queue.messages == [], "parked: nothing more is queued"
    assert len(world.sender.sent) == MAX_ATTEMPTS
    [delivery] = world.deliveries.items.values()
    assert delivery.status == DeliveryStatus.PARKED and delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_status == 503 and delivery.next_attempt_at is None

    world.sender.answer = lambda sent: Answer(204)
    world.clock.now = datetime.now(UTC)  # the verifier allows 5 minutes from real time
    replayed = world.webhooks.replay(ADMIN, made.id, delivery.id)
    assert replayed.status == DeliveryStatus.PENDING and replayed.attempts == 0 and replayed.replays == 1
    assert world.run_queue() == ["delivered"]
    last = world.sender.sent[-1]
    assert last.headers["webhook-id"] == world.sender.sent[0].headers["webhook-id"], "the same id: receivers dedupe"
    Webhook(secret).verify(last.body, last.headers)


def test_a_wait_longer_than_sqs_can_delay_is_queued_again_until_due():
    world = World()
    deliver_one(world)
    [(first, _)] = world.queue.take()
    message = DeliverWebhook.model_validate(
        {**first, "attempt": 1, "not_before": (world.clock() + timedelta(hours=2)).isoformat()}
    )
    assert world.dispatch.deliver(message) == "waiting"
    [(again, delay)] = world.queue.take()
    assert delay == MAX_QUEUE_DELAY and again["attempt"] == 1 and world.sender.sent == []
    world.clock.advance(timedelta(hours=2))
    assert world.dispatch.deliver(DeliverWebhook.model_validate(again)) == "delivered"


def test_a_duplicate_or_outdated_message_does_nothing():
    world = World()
    deliver_one(world)
    [(message, _)] = world.queue.take()
    assert world.dispatch.deliver(DeliverWebhook.model_validate(message)) == "delivered"
    assert world.dispatch.deliver(DeliverWebhook.model_validate(message)) == "stale"
    assert len(world.sender.sent) == 1


def test_a_range_replay_sends_again_the_deliveries_in_the_range_only():
    world = World()
    made, _ = world.subscribe(["contact.updated"])
    start = world.clock()
    for _ in range(3):
        world.dispatch.on_changes([world.change("contact", contact(a=1), contact(a=2))])
        world.clock.advance(timedelta(hours=1))
    assert world.run_queue() == ["delivered"] * 3
    job = world.webhooks.replay_range(
        ADMIN, made.id, ReplayRange(since=start + timedelta(minutes=30), until=start + timedelta(hours=2, minutes=30))
    )
    assert job.subscription_id == made.id
    assert world.run_queue() == ["2"], "one page restarted two deliveries"
    assert world.run_queue() == ["delivered", "delivered"]
    assert sorted(d.replays for d in world.deliveries.items.values()) == [0, 1, 1]
    with pytest.raises(ValidationFailed):
        world.webhooks.replay_range(ADMIN, made.id, ReplayRange(since=start, until=start - timedelta(seconds=1)))


def test_a_range_replay_pages_through_many_deliveries(monkeypatch):
    monkeypatch.setattr(webhook_service, "REPLAY_PAGE", 2)
    world = World()
    made, _ = world.subscribe(["contact.updated"])
    start = world.clock()
    world.dispatch.on_changes([world.change("contact", contact(a=1), contact(a=i + 2)) for i in range(5)])
    world.run_queue()
    world.webhooks.replay_range(ADMIN, made.id, ReplayRange(since=start - timedelta(seconds=1), until=world.clock()))
    restarted = 0
    for _ in range(10):
        outcomes = world.run_queue()
        restarted += sum(int(o) for o in outcomes if o.isdigit())
    assert restarted == 5
    assert all(d.replays == 1 and d.status == DeliveryStatus.DELIVERED for d in world.deliveries.items.values())


# ---- rotation ----


def test_rotation_answers_a_new_secret_and_both_sign_for_a_day():
    world = World()
    made, old_secret = world.subscribe(["contact.updated"])
    rotated, new_secret = world.webhooks.rotate_secret(ADMIN, made.id, expected_version=1)
    assert new_secret != old_secret and rotated.previous_secret_until == world.clock() + ROTATION_OVERLAP
    world.dispatch.on_changes([world.change("contact", contact(a=1), contact(a=2))])
    world.run_queue()
    sent = world.sender.sent[-1]
    assert len(sent.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(sent.body, sent.headers)
    Webhook(new_secret).verify(sent.body, sent.headers)

    # A day on only the new secret signs. The verifier's 5-minute window is about
    # real time, so the signature is compared with the library's own for that instant.
    world.clock.advance(ROTATION_OVERLAP + timedelta(seconds=1))
    world.dispatch.on_changes([world.change("contact", contact(a=2), contact(a=3))])
    [(message, _)] = world.queue.take()
    world.dispatch.deliver(DeliverWebhook.model_validate(message))
    headers = world.sender.sent[-1].headers
    assert len(headers["webhook-signature"].split(" ")) == 1
    expected = Webhook(new_secret).sign(headers["webhook-id"], world.clock(), world.sender.sent[-1].body.decode())
    assert headers["webhook-signature"] == expected


# ---- the SSRF guard ----


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://127.0.0.1/x", "loopback"),
        ("https://localhost/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://192.168.0.10/x", "private"),
        ("https://172.16.5.4/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://169.254.10.1/x", "link-local"),
        ("https://[::1]/x", "loopback"),
        ("https://[fc00::1]/x", "private"),
        ("https://[fd00:ec2::254]/x", "metadata"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://[64:ff9b::a00:1]/x", "private"),
        ("https://100.64.0.1/x", "public"),
        ("https://0.0.0.0/x", "private"),
        ("https://224.0.0.1/x", "public"),
    ],
)
def test_subscribing_a_forbidden_address_is_refused(url, reason):
    world = World()
    with pytest.raises(ValidationFailed) as refused:
        world.subscribe(["contact.created"], url=url)
    assert reason in refused.value.errors[0].message and refused.value.errors[0].field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https:///x",
        "https://hooks.example.com/x#frag",
        "https://unknown.example.com/x",
    ],
)
def test_urls_that_are_not_plain_resolvable_https_are_refused(url):
    with pytest.raises(ValidationFailed):
        World().subscribe(["contact.created"], url=url)


def test_a_name_resolving_to_a_private_address_is_refused_also_when_only_one_of_them_is():
    world = World()
    world.resolver.names["inside.example.com"] = ["10.0.0.7"]
    world.resolver.names["mixed.example.com"] = [PUBLIC, "192.168.1.1"]
    for host in ("inside", "mixed"):
        with pytest.raises(ValidationFailed):
            world.subscribe(["contact.created"], url=f"https://{host}.example.com/hook")


def test_dns_rebinding_to_a_private_address_after_subscribing_is_refused_at_delivery():
    world = World()
    deliver_one(world)
    world.resolver.names["hooks.example.com"] = ["10.0.0.5"]
    assert world.run_queue() == ["pending"]
    assert world.sender.sent == [], "no connection was made"
    [delivery] = world.deliveries.items.values()
    assert delivery.last_error and "private" in delivery.last_error and delivery.last_status is None


def test_the_request_goes_to_the_address_that_was_checked():
    world = World()
    deliver_one(world)
    world.run_queue()
    [sent] = world.sender.sent
    assert sent.address == PUBLIC and sent.target == Target("https", "hooks.example.com", 443, "/crm")


def test_a_redirect_is_a_failed_attempt():
    world = World()
    world.sender.answer = lambda sent: Answer(302, "redirect not followed")
    deliver_one(world)
    assert world.run_queue() == ["pending"]
    [delivery] = world.deliveries.items.values()
    assert delivery.last_status == 302 and delivery.status == DeliveryStatus.PENDING


def test_loopback_is_allowed_only_when_the_stack_says_so():
    assert refusal(__import__("ipaddress").ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(__import__("ipaddress").ip_address("10.0.0.1"), allow_loopback=True) == "a private address"
    assert parse("http://127.0.0.1:8080/hook", allow_loopback=True).port == 8080
    with pytest.raises(ValidationFailed):
        parse("http://127.0.0.1:8080/hook", allow_loopback=False)
    with pytest.raises(ValidationFailed):
        parse("http://hooks.example.com/hook", allow_loopback=True), "plain http only to loopback"
    world = World(allow_loopback=True)
    made, _ = world.subscribe(["contact.updated"], url="http://127.0.0.1:9999/hook")
    assert made.url == "http://127.0.0.1:9999/hook"


def test_a_payload_too_large_for_the_log_goes_without_the_values():
    world = World()
    world.subscribe(["contact.updated"])
    big = "x" * (webhook_service.MAX_PAYLOAD + 10)
    world.dispatch.on_changes([world.change("contact", contact(note="a"), contact(note=big))])
    [delivery] = world.deliveries.items.values()
    body = json.loads(delivery.payload)
    assert body["data"] == {"object": "contact", "id": "r1", "new": None, "truncated": True}
