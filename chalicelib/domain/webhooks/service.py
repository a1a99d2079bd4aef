"""Outgoing webhooks (issue 18, points 5 and 6).

``Webhooks`` is the admins' API: subscriptions (the signing secret is
answered once, on create and on rotation), the delivery log, replays.
``WebhookDispatch`` is the background half: committed writes (from the
table's stream) become deliveries, each delivered through the jobs queue,
retried with exponential backoff for a day, then parked.

Idempotent throughout: a delivery's id is its event's id (the same when the
stream delivers a record twice), and a delivery message names the attempt
and replay it is for, so a duplicate message finds its attempt made and does
nothing. Delivery is at least once (a message may be redelivered after the
POST and before its result is saved); receivers deduplicate by ``webhook-id``.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.webhooks.events import ItemChange, events_of
from chalicelib.domain.webhooks.models import (
    MAX_SUBSCRIPTIONS,
    DeliverWebhook,
    Delivery,
    DeliveryStatus,
    NewSubscription,
    ReplayRange,
    ReplayWebhooks,
    Subscription,
    SubscriptionChanges,
    WebhookEvent,
)
from chalicelib.domain.webhooks.ports import Answer, DeliveryStore, SubscriptionStore, WebhookSender
from chalicelib.domain.webhooks.targets import Resolver, UnsafeTarget, check_subscription_url, checked_addresses, parse

# ---- the retry schedule: exponential, for a day ----

FIRST_RETRY = timedelta(seconds=10)
BACKOFF_FACTOR = 3
LONGEST_WAIT = timedelta(hours=6)
RETRY_WINDOW = timedelta(days=1)


def retry_delays(
    first: timedelta = FIRST_RETRY,
    factor: int = BACKOFF_FACTOR,
    longest: timedelta = LONGEST_WAIT,
    window: timedelta = RETRY_WINDOW,
) -> tuple[timedelta, ...]:
    """The waits after each failed attempt while the next one still falls
    within ``window`` of the first: 10 s, 30 s, 90 s, ... capped at 6 h."""
    delays: list[timedelta] = []
    wait, elapsed = first, timedelta(0)
    while elapsed + wait <= window:
        delays.append(wait)
        elapsed += wait
        wait = min(wait * factor, longest)
    return tuple(delays)


RETRY_DELAYS = retry_delays()
# 1 + 10 = 11 attempts, the last about 21 h after the first; then parked.
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
# SQS delays a message 15 minutes at most; a longer wait is several hops.
MAX_QUEUE_DELAY = 900
# Rotation: the secret before keeps signing (a second signature) this long.
ROTATION_OVERLAP = timedelta(hours=24)
# A payload larger than this is sent without the record's values (an item
# may hold 400 KB, and a delivery keeps the payload in its own item).
MAX_PAYLOAD = 256 * 1024
# Kept of a failure's text in the delivery log.
MAX_ERROR = 200


def next_delay(attempts_made: int) -> timedelta | None:
    """The wait before the next attempt, None when the delivery is to be parked."""
    if attempts_made < 1 or attempts_made > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts_made - 1]


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only owners and admins manage webhooks.")


def payload_of(event: WebhookEvent) -> str:
    body = event.body()
    text = json.dumps(body, separators=(",", ":"), default=str, ensure_ascii=False)
    if len(text.encode()) > MAX_PAYLOAD:
        body["data"] = {"object": event.kind, "id": event.record_id, "new": None, "truncated": True}
        text = json.dumps(body, separators=(",", ":"), default=str, ensure_ascii=False)
    return text


def sign(secret_values: Iterable[str], event_id: str, at: datetime, payload: str) -> dict[str, str]:
    """The Standard Webhooks headers, signed with each secret (rotation: two)."""
    from standardwebhooks.webhooks import Webhook

    signatures = [Webhook(s).sign(event_id, at, payload) for s in secret_values]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "crm-webhooks/1",
    }


class Webhooks:
    """Subscriptions, the delivery log and replays (admins only)."""

    def __init__(
        self,
        subscriptions: SubscriptionStore,
        deliveries: DeliveryStore,
        queue: JobQueue,
        resolver: Resolver,
        *,
        allow_loopback: bool = False,
        clock: Clock = utc_now,
    ):
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._queue = queue
        self._resolver = resolver
        self._allow_loopback = allow_loopback
        self._clock = clock

    def list(self, principal: Principal) -> list[Subscription]:
        _admin(principal)
        return self._subscriptions.list(principal.tenant_id)

    def get(self, principal: Principal, subscription_id: str) -> Subscription:
        _admin(principal)
        found = self._subscriptions.get(principal.tenant_id, subscription_id)
        if found is None:
            raise NotFound("No such webhook.")
        return found

    def create(self, principal: Principal, new: NewSubscription) -> tuple[Subscription, str]:
        """The subscription and its secret (answered this once, never again)."""
        _admin(principal)
        check_subscription_url(new.url, self._resolver, allow_loopback=self._allow_loopback)
        if len(self._subscriptions.list(principal.tenant_id)) >= MAX_SUBSCRIPTIONS:
            raise ValidationFailed(
                f"A tenant has at most {MAX_SUBSCRIPTIONS} webhooks.",
                errors=[FieldError("url", "delete a webhook first")],
            )
        now = self._clock()
        subscription = Subscription(
            id=new_id(),
            tenant_id=principal.tenant_id,
            url=new.url.strip(),
            events=sorted(set(new.events)),
            description=new.description,
            enabled=new.enabled,
            secret_created_at=now,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        secret = new_secret()
        return self._subscriptions.create(subscription, secret), secret

    def update(
        self, principal: Principal, subscription_id: str, changes: SubscriptionChanges, *, expected_version: int
    ) -> Subscription:
        before = self.get(principal, subscription_id)
        require_version(before, expected_version, "webhook")
        given = changes.model_dump(exclude_unset=True)
        if given.get("url") is not None:
            check_subscription_url(given["url"], self._resolver, allow_loopback=self._allow_loopback)
            given["url"] = given["url"].strip()
        if given.get("events") is not None:
            given["events"] = sorted(set(given["events"]))
        after = before.model_copy(update={**given, "updated_at": self._clock(), "updated_by": principal.user_id})
        return self._subscriptions.update(before, after)

    def delete(self, principal: Principal, subscription_id: str, *, expected_version: int | None) -> None:
        found = self.get(principal, subscription_id)
        require_version(found, expected_version, "webhook")
        self._subscriptions.delete(found)

    def rotate_secret(
        self, principal: Principal, subscription_id: str, *, expected_version: int | None
    ) -> tuple[Subscription, str]:
        """A new secret, answered once; the old one keeps signing beside it for
        ROTATION_OVERLAP so that receivers switch without missing a delivery."""
        before = self.get(principal, subscription_id)
        require_version(before, expected_version, "webhook")
        now = self._clock()
        after = before.model_copy(
            update={
                "secret_created_at": now,
                "previous_secret_until": now + ROTATION_OVERLAP,
                "updated_at": now,
                "updated_by": principal.user_id,
            }
        )
        secret = new_secret()
        return self._subscriptions.update(before, after, new_secret=secret), secret

    def deliveries(self, principal: Principal, subscription_id: str, page: PageRequest) -> Slice[Delivery]:
        found = self.get(principal, subscription_id)
        return self._deliveries.list(principal.tenant_id, found.id, page)

    def delivery(self, principal: Principal, subscription_id: str, delivery_id: str) -> Delivery:
        found = self.get(principal, subscription_id)
        delivery = self._deliveries.get(principal.tenant_id, found.id, delivery_id)
        if delivery is None:
            raise NotFound("No such delivery.")
        return delivery

    def replay(self, principal: Principal, subscription_id: str, delivery_id: str) -> Delivery:
        """Send one delivery again, from its first attempt (same webhook-id)."""
        delivery = self.delivery(principal, subscription_id, delivery_id)
        again = restart(delivery, self._clock())
        saved = self._deliveries.save(delivery, again)
        self._queue.send(first_attempt(saved).model_dump(mode="json"))
        return saved

    def replay_range(self, principal: Principal, subscription_id: str, request: ReplayRange) -> ReplayWebhooks:
        """Queue the replay of the deliveries of events in [since, until]."""
        found = self.get(principal, subscription_id)
        if request.until < request.since:
            raise ValidationFailed("The range ends before it starts.", errors=[FieldError("until", "before since")])
        job = ReplayWebhooks(
            tenant_id=principal.tenant_id,
            subscription_id=found.id,
            since=request.since,
            until=request.until,
            only_undelivered=request.only_undelivered,
        )
        self._queue.send(job.model_dump(mode="json"))
        return job


def restart(delivery: Delivery, now: datetime) -> Delivery:
    return delivery.model_copy(
        update={
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "replays": delivery.replays + 1,
            "next_attempt_at": now,
        }
    )


def first_attempt(delivery: Delivery) -> DeliverWebhook:
    return DeliverWebhook(
        tenant_id=delivery.tenant_id,
        subscription_id=delivery.subscription_id,
        delivery_id=delivery.id,
        attempt=1,
        replay=delivery.replays,
    )


REPLAY_PAGE = 100


class WebhookDispatch:
    """Committed writes -> deliveries -> attempts (the background half)."""

    def __init__(
        self,
        subscriptions: SubscriptionStore,
        deliveries: DeliveryStore,
        queue: JobQueue,
        resolver: Resolver,
        sender: WebhookSender,
        *,
        allow_loopback: bool = False,
        clock: Clock = utc_now,
    ):
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._queue = queue
        self._resolver = resolver
        self._sender = sender
        self._allow_loopback = allow_loopback
        self._clock = clock
        self._batch: dict[str, list[Subscription]] | None = None

    # ---- from the stream ----

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within it, each tenant's subscriptions are read once (a batch of
        stream records, e.g. an import's contacts, is one Query per tenant)."""
        self._batch = {}
        try:
            yield
        finally:
            self._batch = None

    def on_changes(self, changes: Iterable[ItemChange]) -> int:
        """Make the deliveries of these committed writes and queue their first
        attempts; answers how many were queued. Safe to run twice on the same changes."""
        by_tenant: dict[str, list[Subscription]] = self._batch if self._batch is not None else {}
        messages: list[dict[str, Any]] = []
        now = self._clock()
        for change in changes:
            for event in events_of(change):
                if event.tenant_id not in by_tenant:
                    by_tenant[event.tenant_id] = self._subscriptions.list(event.tenant_id)
                wanting = [s for s in by_tenant[event.tenant_id] if s.enabled and event.type in s.events]
                if not wanting:
                    continue
                payload = payload_of(event)
                for subscription in wanting:
                    delivery = Delivery(
                        id=event.id,
                        tenant_id=event.tenant_id,
                        subscription_id=subscription.id,
                        event_id=event.id,
                        event_type=event.type,
                        occurred_at=event.occurred_at,
                        payload=payload,
                        created_at=now,
                        next_attempt_at=now,
                    )
                    if not self._deliveries.add(delivery):
                        # Made by an earlier run of the same change: queue its first
                        # attempt again only if that one may have been lost.
                        existing = self._deliveries.get(event.tenant_id, subscription.id, event.id)
                        if existing is None or existing.attempts or existing.status != DeliveryStatus.PENDING:
                            continue
                        delivery = existing
                    messages.append(first_attempt(delivery).model_dump(mode="json"))
        if messages:
            self._queue.send_many(messages)
        return len(messages)

    # ---- one attempt ----

    def deliver(self, message: DeliverWebhook) -> str:
        """Make the attempt the message names, if it is still due; answers what happened."""
        delivery = self._deliveries.get(message.tenant_id, message.subscription_id, message.delivery_id)
        if (
            delivery is None
            or delivery.status != DeliveryStatus.PENDING
            or delivery.attempts != message.attempt - 1
            or delivery.replays != message.replay
        ):
            return "stale"
        now = self._clock()
        if message.not_before is not None and now < message.not_before:
            self._wait(message, message.not_before - now)
            return "waiting"
        subscription = self._subscriptions.get(message.tenant_id, message.subscription_id)
        if subscription is None:
            return "stale"  # deleted: its deliveries expire with the log
        answer = (
            self._attempt(subscription, delivery, now) if subscription.enabled else Answer(None, "webhook disabled")
        )
        after = delivery.model_copy(
            update={
                "attempts": delivery.attempts + 1,
                "last_attempt_at": now,
                "last_status": answer.status,
                "last_error": (answer.error or "")[:MAX_ERROR] or None,
            }
        )
        delay = None if answer.ok or not subscription.enabled else next_delay(after.attempts)
        if answer.ok:
            after = after.model_copy(update={"status": DeliveryStatus.DELIVERED, "next_attempt_at": None})
        elif delay is None:
            after = after.model_copy(update={"status": DeliveryStatus.PARKED, "next_attempt_at": None})
        else:
            after = after.model_copy(update={"next_attempt_at": now + delay})
            # Queued before the result is saved: if saving fails, this message is
            # retried and the next one finds its attempt not made yet (stale).
            self._wait(
                DeliverWebhook(
                    tenant_id=delivery.tenant_id,
                    subscription_id=delivery.subscription_id,
                    delivery_id=delivery.id,
                    attempt=after.attempts + 1,
                    replay=delivery.replays,
                    not_before=now + delay,
                ),
                delay,
            )
        try:
            self._deliveries.save(delivery, after)
        except PreconditionFailed:
            return "stale"  # a duplicate message made this attempt meanwhile
        return after.status.value if not answer.ok else "delivered"

    def _wait(self, message: DeliverWebhook, remaining: timedelta) -> None:
        seconds = max(0, math.ceil(remaining.total_seconds()))
        self._queue.send(message.model_dump(mode="json"), delay_seconds=min(seconds, MAX_QUEUE_DELAY))

    def _attempt(self, subscription: Subscription, delivery: Delivery, now: datetime) -> Answer:
        try:
            target = parse(subscription.url, allow_loopback=self._allow_loopback)
            addresses = checked_addresses(target, self._resolver, allow_loopback=self._allow_loopback)
        except (UnsafeTarget, ValidationFailed) as err:
            return Answer(None, f"refused: {err}")
        current, previous = self._subscriptions.secrets(subscription.tenant_id, subscription.id)
        keys = [current]
        if previous and subscription.previous_secret_until and now < subscription.previous_secret_until:
            keys.append(previous)
        headers = sign(keys, delivery.event_id, now, delivery.payload)
        answer = Answer(None, "no address")
        for address in addresses[:2]:
            answer = self._sender.post(target, address, headers, delivery.payload.encode())
            if answer.status is not None:
                break
        return answer

    # ---- replaying a range ----

    def replay_page(self, job: ReplayWebhooks) -> int:
        """Restart one page of the range's deliveries; the rest queue themselves."""
        if self._subscriptions.get(job.tenant_id, job.subscription_id) is None:
            return 0
        page = self._deliveries.list(
            job.tenant_id,
            job.subscription_id,
            PageRequest(limit=REPLAY_PAGE, after=job.after),
            since=job.since,
            until=job.until,
            newest_first=False,
        )
        now, messages = self._clock(), []
        for delivery in page.items:
            if job.only_undelivered and delivery.status == DeliveryStatus.DELIVERED:
                continue
            try:
                saved = self._deliveries.save(delivery, restart(delivery, now))
            except PreconditionFailed:
                continue  # changed meanwhile (an attempt ran): the next run of this page takes it
            messages.append(first_attempt(saved).model_dump(mode="json"))
        if messages:
            self._queue.send_many(messages)
        if page.after is not None:
            self._queue.send(job.model_copy(update={"after": page.after}).model_dump(mode="json"))
        return len(messages)
