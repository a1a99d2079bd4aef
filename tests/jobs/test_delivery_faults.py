"""Delivery faults for every queue consumer, the stream consumer and every
schedule (issue 19, point 4).

One world is made through the API (and, where there is no request that
makes it, by the producer the code uses): every message kind of every queue
is waiting to be delivered. From that one start (a copy of moto's state),
two runs: the schedules run and everything is delivered in order, once; then
the schedules run twice and every batch comes reversed and then again (each
message a second time, a new receipt handle), stream records too. Both runs
must end in the same state (tests/jobs/delivery_harness.py: table, objects,
outbox, webhook requests; ids and instants normalised). And the set of kinds
delivered with faults must be the set the code declares: a new queue,
function, message kind, subscriber or schedule without a scenario here fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, Tenant, bearer
from tests.jobs import delivery_harness as h

NOW = datetime.now(UTC)


def _ok(answer: tuple[int, Any, dict[str, str]], expect: int | tuple[int, ...] = (200, 201, 202, 204)) -> Any:
    status, body, _ = answer
    assert status in ((expect,) if isinstance(expect, int) else expect), json.dumps(body)
    return body


class World:
    """What one tenant does in a day, each step leaving messages behind."""

    def __init__(self, api: Api, tenant: Tenant):
        self.api, self.tenant = api, tenant
        self.owner = bearer(tenant.owner_token)

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        return _ok(self.api.call(method, path, body, headers={**self.owner, **headers}))

    def contact(self, first: str, **fields: Any) -> Any:
        return self.call("POST", "/v1/contacts", {"kind": "person", "first_name": first, "last_name": "Faulty", **fields})

    def build(self) -> None:
        # Webhooks: every record change of the day reaches a receiver (stream -> webhooks.deliver).
        self.call(
            "POST",
            "/v1/webhooks",
            {"url": "https://93.184.216.34/hook", "events": ["contact.created", "contact.updated", "contact.deleted"]},
        )
        # A company renamed: its persons' company name follows (contacts.company_renamed).
        company = self.call("POST", "/v1/contacts", {"kind": "company", "company_name": "Faulty GmbH"})
        self.contact("Pia", company_id=company["id"])
        self.call("PATCH", f"/v1/contacts/{company['id']}", {"company_name": "Faultless AG"}, **{"If-Match": '"1"'})
        # A contact deleted with its deal, case, task and history (record.deleted:contact).
        gone = self.contact("Gustav")
        deal = self.call("POST", "/v1/deals", {"title": "Lost deal", "contact_id": gone["id"]})
        case = self.call("POST", "/v1/cases", {"title": "Lost case", "member_ids": [gone["id"]]})
        self.call("POST", "/v1/tasks", {"title": "Lost task", "due_at": (NOW + timedelta(days=3)).isoformat(), "contact_id": gone["id"]})
        self.call("DELETE", f"/v1/contacts/{gone['id']}")
        # A deal and a case deleted (record.deleted:deal, record.deleted:case).
        self.call("DELETE", f"/v1/deals/{deal['id']}")
        self.call("DELETE", f"/v1/cases/{case['id']}")
        # A task category in use replaced (settings.category_replaced:task-categories).
        categories = self.call("GET", "/v1/settings/task-categories")["items"]
        old, new = categories[0], categories[1]
        anna = self.contact("Anna")
        # Due in 10 minutes, reminded 5 before: the reminders schedule runs 6 minutes from now.
        self.call(
            "POST",
            "/v1/tasks",
            {
                "title": "Call back",
                "due_at": (NOW + timedelta(minutes=10)).isoformat(),
                "remind_minutes": 5,
                "contact_id": anna["id"],
                "category_id": old["id"],
            },
        )
        self.call("DELETE", f"/v1/settings/task-categories/{old['id']}?replace_with={new['id']}")
        # A tag renamed on every contact that has it (tags.change), a bulk change as a job (contacts.bulk).
        tagged = [self.contact(f"T{n}", tags=["Old tag"])["id"] for n in range(3)]
        self.call("PATCH", "/v1/tags/contact/old%20tag", {"name": "New tag"})
        self.call(
            "POST",
            "/v1/contacts/bulk",
            {"ids": tagged + [f"01NOSUCH{n:04d}" for n in range(100)], "action": "add_tags", "tags": ["Bulk"]},
        )

        # Housekeeping last swept an hour ago; an item of the tenant expired since (housekeeping.purge_expired).
        from chalicelib.bootstrap import container
        from chalicelib.storage.dynamo import keys
        from chalicelib.storage.dynamo.table import Table

        container().expiring_items.record_sweep(NOW - timedelta(hours=1))
        Table().create(
            {"pk": f"T#{self.tenant.id}#SESSION#faulty", "sk": "META", **keys.expiry_attributes(NOW - timedelta(minutes=1))}
        )

    @staticmethod
    def prepare() -> None:
        """After the container is made anew: the clocks the schedules read."""
        from chalicelib.bootstrap import container

        container().reminders._clock = lambda: NOW + timedelta(minutes=6)


@pytest.fixture
def world(api: Api, tenant: Tenant) -> Iterator[World]:
    from chalicelib import bootstrap

    bootstrap.reset()
    h.forget_stream()
    h.Outside().install()
    made = World(api, tenant)
    made.build()
    yield made


def run(faulty: bool, outside: h.Outside) -> h.Delivery:
    from chalicelib import bootstrap

    bootstrap.reset()
    outside.install()
    World.prepare()
    delivery = h.Delivery(faulty=faulty)
    delivery.drain()
    delivery.run_schedules()
    delivery.drain()
    if faulty:
        # And the schedules again, after their work was done: nothing more happens.
        delivery.run_schedules()
        delivery.drain()
    return delivery


def test_every_message_twice_and_out_of_order_ends_as_once_in_order(world: World) -> None:
    from tests.moto_state import MotoState

    start = MotoState()
    in_order = h.Outside()
    once = run(False, in_order)
    expected = h.end_state(in_order)
    assert once.failures == []

    start.restore()
    faulted = h.Outside()
    twice = run(True, faulted)
    got = h.end_state(faulted)
    assert twice.failures == []
    assert h.differences(expected, got) == {}
    delivered = {queue: set(kinds) for queue, kinds in twice.delivered.items()}
    declared = h.declared_kinds()
    missing = {q: sorted(declared[q] - delivered.get(q, set())) for q in declared if declared[q] - delivered.get(q, set())}
    unknown = {q: sorted(delivered[q] - declared.get(q, set())) for q in delivered if delivered[q] - declared.get(q, set())}
    assert (missing, unknown) == ({}, {}), "every declared kind is delivered with faults, and nothing else"


def test_the_harness_reads_the_stream_as_getrecords_does(api: Api, tenant: Tenant) -> None:
    from chalicelib.storage.webhooks import StreamTail

    World(api, tenant).contact("Stream")
    mine, theirs = h.MotoStreamTail().read(1000), StreamTail().read(1000)
    assert mine and mine == theirs
