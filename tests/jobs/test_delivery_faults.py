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
    """What one tenant does in a day, each step leaving messages behind. Steps
    work on records of their own: two jobs on one record may rightly end
    differently in another order (as two requests may)."""

    def __init__(self, api: Api, tenant: Tenant, twilio: Any, other: Tenant | None = None):
        self.api, self.tenant, self.twilio, self.other = api, tenant, twilio, other
        self.owner = bearer(tenant.owner_token)
        self.report_clock, self.late = NOW, False

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        return _ok(self.api.call(method, path, body, headers={**self.owner, **headers}))

    def contact(self, first: str, **fields: Any) -> Any:
        body = {"kind": "person", "first_name": first, "last_name": "Faulty", **fields}
        return self.call("POST", "/v1/contacts", body)

    def build(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for step in (
            self.webhooks,
            self.contacts,
            self.tasks,
            self.tags_and_bulk,
            self.housekeeping,
            self.invoices,
            self.mailing_and_gdpr,
            self.exports_and_reports,
            self.web_form,
            self.imports,
            self.calls,
            self.bounces,
            self.legacy,
        ):
            if step == self.tags_and_bulk:
                step(monkeypatch)  # type: ignore[call-arg]
            else:
                step()

    def webhooks(self) -> None:
        # Every contact changed or deleted reaches a receiver (stream -> webhooks.deliver): a job that
        # wrote a contact twice would send twice. And a replay of the day is asked for (webhooks.replay).
        hook = self.call(
            "POST",
            "/v1/webhooks",
            {"url": "https://93.184.216.34/hook", "events": ["contact.updated", "contact.deleted"]},
        )
        day = {"since": (NOW - timedelta(days=1)).isoformat(), "until": (NOW + timedelta(days=1)).isoformat()}
        self.call("POST", f"/v1/webhooks/{hook['id']}/deliveries/replay", day)

    def contacts(self) -> None:
        # A company renamed: its persons' company name follows (contacts.company_renamed).
        company = self.call("POST", "/v1/contacts", {"kind": "company", "company_name": "Faulty GmbH"})
        self.contact("Pia", company_id=company["id"])
        self.call("PATCH", f"/v1/contacts/{company['id']}", {"company_name": "Faultless AG"}, **{"If-Match": '"1"'})
        # A contact deleted with its deal, case, task and history (record.deleted:contact).
        gone = self.contact("Gustav")
        deal = self.call("POST", "/v1/deals", {"title": "Lost deal", "contact_id": gone["id"]})
        case = self.call("POST", "/v1/cases", {"title": "Lost case", "member_ids": [gone["id"]]})
        due = (NOW + timedelta(days=3)).isoformat()
        self.call("POST", "/v1/tasks", {"title": "Lost task", "due_at": due, "contact_id": gone["id"]})
        self.call("POST", f"/v1/contacts/{gone['id']}/history", {"text": "Met at the fair"})
        self.call("DELETE", f"/v1/contacts/{gone['id']}")
        # A deal and a case deleted (record.deleted:deal, record.deleted:case).
        self.call("DELETE", f"/v1/deals/{deal['id']}")
        self.call("DELETE", f"/v1/cases/{case['id']}")

    def tasks(self) -> None:
        # A task category in use replaced (settings.category_replaced:task-categories); the task's
        # reminder is due when the reminders schedule runs (reminders.deliver, notifications.email).
        categories = self.call("GET", "/v1/settings/task-categories")["items"]
        old, new = categories[0], categories[1]
        anna = self.contact("Anna")
        task = {
            "title": "Call back",
            "due_at": (NOW + timedelta(minutes=10)).isoformat(),
            "remind_minutes": 5,
            "contact_id": anna["id"],
            "category_id": old["id"],
        }
        self.call("POST", "/v1/tasks", task)
        self.call("DELETE", f"/v1/settings/task-categories/{old['id']}?replace_with={new['id']}")

    def tags_and_bulk(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # A tag renamed on every contact that has it (tags.change) and a bulk change (contacts.bulk):
        # as jobs, the way larger selections run (the limits lowered: a few records stand for many).
        from chalicelib.domain.contacts import bulk
        from chalicelib.domain.records import tags

        monkeypatch.setattr(tags, "MAX_SYNC_RECORDS", 1)
        monkeypatch.setattr(bulk, "SYNC_LIMIT", 1)
        for n in range(3):
            self.contact(f"Tagged{n}", tags=["Old tag"])
        self.call("PATCH", "/v1/tags/contact/old%20tag", {"name": "New tag"})
        ids = [self.contact(f"Bulk{n}")["id"] for n in range(3)] + ["01NOSUCHCONTACT0000000000"]
        self.call("POST", "/v1/contacts/bulk", {"ids": ids, "action": "add_tags", "tags": ["Bulk"]})

    def housekeeping(self) -> None:
        # Last swept an hour ago; an item of the tenant expired since (housekeeping.purge_expired).
        from chalicelib.bootstrap import container
        from chalicelib.storage.dynamo import keys
        from chalicelib.storage.dynamo.table import Table

        container().expiring_items.record_sweep(NOW - timedelta(hours=1))
        expired = keys.expiry_attributes(NOW - timedelta(minutes=1))
        Table().create({"pk": f"T#{self.tenant.id}#SESSION#faulty", "sk": "META", **expired})

    def invoices(self) -> None:
        # One invoice's PDF asked for (invoices.render), another sent (invoices.send, invoices.mail),
        # a third deleted (record.deleted:invoice).
        settings = {
            "company_name": "Acme GmbH",
            "address": {"street": "Hauptstr. 5", "city": "Berlin", "country": "DE"},
        }
        self.call("PUT", "/v1/settings/invoices", settings)
        tax = self.call("POST", "/v1/taxes", {"name": "USt 19 %", "rate": "19"})
        billing = {"street": "Königstr. 1", "city": "Berlin", "zip": "10115", "country": "DE"}
        client = self.call(
            "POST",
            "/v1/contacts",
            {
                "kind": "company",
                "company_name": "Client GmbH",
                "details": [
                    {"type": "address", "category": "billing", "value": billing},
                    {"type": "email", "value": "billing@client.example"},
                ],
            },
        )
        body = {
            "client_id": client["id"],
            "issue_date": "2026-12-01",
            "due_date": "2026-12-31",
            "lines": [{"title": "Consulting", "quantity": "3", "price": "19.99", "tax_ids": [tax["id"]]}],
        }
        shown, sent, deleted = (self.call("POST", "/v1/invoices", body) for _ in range(3))
        assert self.api.call("GET", f"/v1/invoices/{shown['id']}/pdf", headers=self.owner)[0] == 202
        self.call("POST", f"/v1/invoices/{sent['id']}/send", {})
        self.call("DELETE", f"/v1/invoices/{deleted['id']}")

    def mailing_and_gdpr(self) -> None:
        # A mailing (mailing.chunk); one person's data exported (gdpr.export), and in the other tenant
        # another's erased (gdpr.erase): an erasure takes every export and import file of its tenant
        # along, which in another order would rightly leave other files.
        people = [
            self.contact(f"Reader{n}", details=[{"type": "email", "value": f"reader{n}@example.org"}]) for n in range(2)
        ]
        mailing = {
            "contact_ids": [p["id"] for p in people],
            "subject": "Hi {{ first_name }}",
            "body": "Dear {{ display_name }}",
            "add_history": True,
        }
        self.call("POST", "/v1/mailings", mailing)
        exported = self.contact("Exported", details=[{"type": "email", "value": "exported@example.org"}])
        self.call("GET", f"/v1/contacts/{exported['id']}/export")
        other = bearer(self.other.owner_token)
        body = {"kind": "person", "first_name": "Erased", "last_name": "Faulty"}
        erased = _ok(self.api.call("POST", "/v1/contacts", body, headers=other))
        _ok(self.api.call("POST", f"/v1/contacts/{erased['id']}/erase", headers=other))

    def exports_and_reports(self) -> None:
        # An export (exports.run); a report now (reports.generate), a scheduled one due (reports.slot)
        # and the first past its retention (reports.expire) when the reports schedule runs.
        self.call("POST", "/v1/deals", {"title": "Exported deal"})
        self.call("POST", "/v1/exports", {"entities": ["deals"]})
        self.call("PUT", "/v1/settings/reports", {"retention_days": 1})
        self.call("POST", "/v1/reports", {"type": "summary_now"})
        schedule = {"type": "deals_by_manager", "period": {"preset": "last_week"}, "every": "week"}
        made = self.call("POST", "/v1/report-schedules", schedule)
        due = datetime.fromisoformat(made["next_run_at"])
        self.report_clock = max(due, NOW + timedelta(days=1)) + timedelta(minutes=20)

    def web_form(self) -> None:
        # A web form submission the request could not process (the table busy): queued (forms.submission).
        from chalicelib.bootstrap import container
        from chalicelib.domain.shared.errors import TemporarilyUnavailable
        from tests.api.test_web_forms_api import ANNA, Clock, make_form, post_json, stamp_for

        clock = Clock()
        container().override(web_form_clock=clock)
        form = make_form(self.api, self.tenant)
        stamp = stamp_for(self.api, form["key"])
        clock.advance(5)
        real = container().history_store

        class Down:
            def add_event(self, event: Any) -> None:
                raise TemporarilyUnavailable("The database is busy; please retry.")

        container().override(history_store=Down())
        _ok(post_json(self.api, form["key"], {**ANNA, "email_work": "form@example.org", "crm_stamp": stamp}), 201)
        container().override(history_store=real)

    def imports(self) -> None:
        # A CSV import (imports.chunk on its own queue).
        from tests.import_helpers import csv_bytes, start, upload

        rows = [["First name", "Last name", "E-mail"]] + [[f"Imp{n}", "Orted", f"imp{n}@example.org"] for n in range(3)]
        start(self.api, self.owner, upload(self.api, self.owner, csv_bytes(rows)))

    def calls(self) -> None:
        # Twilio's callbacks of an answered, recorded call (voip.status, voip.recording, voip.settle).
        from tests.api.test_voip_api import add_number, connect, online
        from tests.jobs.test_voip_call_events import answered_call_callbacks

        account = connect(self.tenant)
        anna, anna_token = self.tenant.add_user("anna@acme.example")
        ben, ben_token = self.tenant.add_user("ben@acme.example")
        number = add_number(self.tenant, "+4930555020", [{"user_id": anna}, {"user_id": ben}], recording=True)
        online(self.tenant, anna_token)
        online(self.tenant, ben_token)
        scene = {"account": account, "number": number, "anna": (anna, anna_token), "ben": (ben, ben_token)}
        answered_call_callbacks(self.api, scene, 1, "+4917612345678")

    def bounces(self) -> None:
        # SES's bounce and complaint events through SNS (the bounces queue; SES is the producer).
        from chalicelib.storage.queues import Queue

        for event in (
            {
                "notificationType": "Bounce",
                "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "reader0@example.org"}]},
            },
            {
                "notificationType": "Complaint",
                "complaint": {"complainedRecipients": [{"emailAddress": "reader1@example.org"}]},
            },
        ):
            mail = {"headers": [{"name": "X-CRM-Tenant", "value": self.tenant.id}]}
            Queue("bounces").send({"Type": "Notification", "Message": json.dumps({**event, "mail": mail})})

    def legacy(self) -> None:
        # A cascade queued before the event table existed (records.cascade_delete): no producer left.
        from chalicelib.storage.queues import Queue

        gone = self.contact("Legacy")
        self.call("DELETE", f"/v1/contacts/{gone['id']}")
        message = {
            "kind": "records.cascade_delete",
            "tenant_id": self.tenant.id,
            "record_kind": "contact",
            "record_id": gone["id"],
        }
        Queue("jobs").send(message)

    def prepare(self) -> None:
        """After the container is made anew: the clocks the schedules read.
        The day's queued work runs now; the schedules then run ``late``: past
        the reminder, the scheduled report's slot and the first report's retention."""
        from chalicelib.bootstrap import container

        self.late = False
        container().override(report_clock=lambda: self.report_clock if self.late else datetime.now(UTC))
        container().reminders._clock = lambda: NOW + timedelta(minutes=6)


@pytest.fixture
def world(
    api: Api,
    tenant: Tenant,
    other_tenant: Tenant,
    twilio: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    from chalicelib.domain.voip import calls

    # The settle message is queued without its 30 s delay (moto would hold it back).
    monkeypatch.setattr(calls, "SETTLE_SECONDS", 0)
    h.forget_stream()
    made = World(api, tenant, twilio, other_tenant)
    h.Outside(twilio=twilio).install()
    made.build(monkeypatch)
    yield made


def run(world: World, faulty: bool) -> tuple[h.Delivery, h.Outside]:
    from chalicelib import bootstrap

    bootstrap.reset()
    outside = h.Outside(twilio=world.twilio)
    outside.install()
    world.prepare()
    delivery = h.Delivery(faulty=faulty)
    delivery.drain()
    world.late = True
    delivery.run_schedules()
    delivery.drain()
    if faulty:
        # And the schedules again, after their work was done: nothing more happens.
        delivery.run_schedules()
        delivery.drain()
    return delivery, outside


def test_every_message_twice_and_out_of_order_ends_as_once_in_order(world: World) -> None:
    from tests.moto_state import MotoState

    start = MotoState()
    once, in_order = run(world, faulty=False)
    expected = h.end_state(in_order)
    assert once.failures == []

    start.restore()
    twice, faulted = run(world, faulty=True)
    got = h.end_state(faulted)
    assert twice.failures == []
    found = h.differences(expected, got)
    assert found == {}, json.dumps(found, indent=1)
    delivered = {queue: set(kinds) for queue, kinds in twice.delivered.items()}
    declared = h.declared_kinds()
    missing = {
        q: sorted(declared[q] - delivered.get(q, set())) for q in declared if declared[q] - delivered.get(q, set())
    }
    unknown = {
        q: sorted(delivered[q] - declared.get(q, set())) for q in delivered if delivered[q] - declared.get(q, set())
    }
    assert (missing, unknown) == ({}, {}), "every declared kind is delivered with faults, and nothing else"
    # Every schedule found work in its first run (so its overlapping run had work to repeat), and the
    # stream was read with faults too.
    schedules = {f for f, feed in h.declared_functions().items() if feed == "schedule"}
    assert set(twice.scheduled) == schedules
    idle = {f for f, runs in twice.scheduled.items() if not runs[0]["queued"]}
    assert idle == set(), "a schedule with nothing due in the world: give it due work in World.build"
    assert twice.stream_records > 0


def test_every_function_is_a_queue_consumer_the_stream_consumer_or_a_schedule() -> None:
    from infra.aws.stack import FUNCTIONS

    declared = h.declared_functions()
    assert set(FUNCTIONS) - {"api_handler"} == set(declared), "a function the fault harness does not feed"
    assert {feed for feed in declared.values() if feed.startswith("queue:")} == {
        f"queue:{q}" for q in h.declared_queues()
    }


def test_the_harness_reads_the_stream_as_getrecords_does(api: Api, tenant: Tenant) -> None:
    from chalicelib.storage.webhooks import StreamTail

    World(api, tenant, None).contact("Stream")
    mine, theirs = h.MotoStreamTail().read(1000), StreamTail().read(1000)

    def instants(records: list[dict[str, Any]]) -> list[float]:
        return [r["dynamodb"].pop("ApproximateCreationDateTime") for r in records]

    # The instant to the millisecond (GetRecords' precision; rounding may differ by one).
    assert all(abs(a - b) <= 0.0011 for a, b in zip(instants(mine), instants(theirs), strict=True))
    assert mine and mine == theirs
