"""Mass mailing (ADM-2) rules over in-memory twins: templates and their sandbox,
preview, selection and access, throttling, chunks and checkpoints, cancel,
suppression, unsubscribe tokens, bounces, tenant isolation."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chalicelib.domain.mailing import bounces
from chalicelib.domain.mailing.models import (
    Attachment,
    MailingChunk,
    MailingFilter,
    MailingSettings,
    MailingStatus,
    NewMailing,
    PreviewRequest,
    RecipientStatus,
)
from chalicelib.domain.mailing.service import chunk_size
from chalicelib.domain.mailing.unsubscribe import address_digest
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, TemporarilyUnavailable, ValidationFailed
from chalicelib.domain.shared.pagination import CursorCodec, PageRequest, QueryScope
from tests.unit.mailing_fakes import SECRET, World, admin, person, user


@pytest.fixture
def world() -> World:
    return World()


def mail_to(
    world: World,
    ids: list[str],
    subject: str = "Hi {{ first_name }}",
    body: str = "Dear {{ display_name }}",
    **extra: Any,
):
    return world.service.start(admin(), NewMailing(contact_ids=ids, subject=subject, body=body, **extra))


def test_one_message_per_contact_to_its_primary_address_with_placeholders_and_custom_fields(world: World) -> None:
    world.fields.fields = {"F1": "Shoe size"}
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de", custom={"F1": "38"}))
    world.recipients.add(person("t1", "c2", "Ben", "ben@example.de"))
    mailing = mail_to(world, ["c1", "c2"], body="Size {{ custom.shoe_size }} / {{ custom['F1'] }} for {{ email }}")
    world.run_queue()
    sent = {m.to: m for m in world.mailer.sent}
    assert sorted(sent) == ["anna@example.de", "ben@example.de"]
    assert sent["anna@example.de"].subject == "Hi Anna"
    assert sent["anna@example.de"].text.startswith("Size 38 / 38 for anna@example.de")
    assert sent["ben@example.de"].text.startswith("Size  /  for ben@example.de")  # no value: empty, not an error
    done = world.service.get(admin(), mailing.id)
    assert done.status == MailingStatus.DONE and done.counts["sent"] == 2 and done.total == 2


def test_every_message_carries_rfc8058_headers_and_the_link_in_its_body(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    mail_to(world, ["c1"])
    world.run_queue()
    (mail,) = world.mailer.sent
    url = mail.headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://crm.example/v1/unsubscribe/")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in mail.text
    # Where the template places the link, it is not added a second time.
    world.recipients.add(person("t1", "c2", "Ben", "ben@example.de"))
    mail_to(world, ["c2"], body="Bye: {{ unsubscribe_url }}")
    world.run_queue()
    assert world.mailer.sent[-1].text.count("/v1/unsubscribe/") == 1


@pytest.mark.parametrize("field", ["subject", "body"])
def test_an_unknown_placeholder_is_a_422_naming_it_and_nothing_is_queued(world: World, field: str) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    templates = {"subject": "Hi", "body": "Hello", field: "Hi {{ frist_name }}"}
    with pytest.raises(ValidationFailed) as err:
        world.service.start(admin(), NewMailing(contact_ids=["c1"], **templates))
    assert err.value.errors[0].field == field and "frist_name" in err.value.errors[0].message
    with pytest.raises(ValidationFailed, match="shoe_size"):
        world.service.start(admin(), NewMailing(contact_ids=["c1"], subject="x", body="{{ custom.shoe_size }}"))
    assert world.queue.messages == []


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__class__.__base__.__subclasses__() }}",
        "{{ custom.__class__.__init__.__globals__ }}",
        "{{ first_name.format.__globals__ }}",
        "{% for x in range(10**8) %}{% endfor %}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'] }}",
        "{% for a in range(90000) %}{% for b in range(90000) %}x{% endfor %}{% endfor %}",
        "{{ first_name.mro() }}",
        "{% import 'os' as os %}",
        "{{ 'a' * 10000000 }}",
    ],
)
def test_sandbox_escape_attempts_are_422s(world: World, template: str) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    with pytest.raises(ValidationFailed):
        world.service.start(admin(), NewMailing(contact_ids=["c1"], subject="x", body=template))
    with pytest.raises(ValidationFailed):
        world.service.preview(admin(), PreviewRequest(contact_id="c1", subject="x", body=template))


def test_a_syntax_error_names_the_field_and_line(world: World) -> None:
    with pytest.raises(ValidationFailed) as err:
        world.service.start(admin(), NewMailing(contact_ids=["c1"], subject="{{ first_name", body="x"))
    assert err.value.errors[0].field == "subject" and "line 1" in err.value.errors[0].message


def test_preview_renders_for_one_recipient_and_says_if_they_are_suppressed(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    shown = world.service.preview(admin(), PreviewRequest(contact_id="c1", subject="Hi {{ first_name }}", body="B"))
    assert (shown.to, shown.subject, shown.suppressed) == ("anna@example.de", "Hi Anna", False)
    assert shown.headers["List-Unsubscribe"] == "<https://crm.example/v1/unsubscribe/preview>"
    with pytest.raises(NotFound):  # the preview's link unsubscribes nobody
        world.service.unsubscribe("preview")
    world.suppressions.suppress("t1", address_digest("Anna@Example.de"), "unsubscribed", world.time.now)
    assert world.service.preview(admin(), PreviewRequest(contact_id="c1", subject="x", body="y")).suppressed
    assert world.mailer.sent == [] and world.queue.messages == []


def test_preview_of_a_contact_the_user_may_not_read_is_404(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de", managers=("someone-else",)))
    with pytest.raises(NotFound):
        world.service.preview(user(), PreviewRequest(contact_id="c1", subject="x", body="y"))


def test_results_sent_suppressed_no_address_failed_paginated(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    world.recipients.add(person("t1", "c2", "Ben", None))
    world.recipients.add(person("t1", "c3", "Cleo", "cleo@example.de"))
    world.recipients.add(person("t1", "c4", "Dan", "dan@example.de"))
    world.suppressions.suppress("t1", address_digest("cleo@example.de"), "bounced", world.time.now)
    world.mailer.fail_for = {"dan@example.de"}
    mailing = mail_to(world, ["c1", "c2", "c3", "c4", "c5"])
    world.run_queue()
    done = world.service.get(admin(), mailing.id)
    assert done.counts == {"sent": 1, "suppressed": 1, "no_address": 1, "failed": 2}
    first = world.service.recipients(admin(), mailing.id, PageRequest(limit=2), None)
    second = world.service.recipients(admin(), mailing.id, PageRequest(limit=2, after=first.after), None)
    third = world.service.recipients(admin(), mailing.id, PageRequest(limit=2, after=second.after), None)
    statuses = {r.contact_id: (r.status, r.reason) for r in first.items + second.items + third.items}
    assert statuses == {
        "c1": (RecipientStatus.SENT, None),
        "c2": (RecipientStatus.NO_ADDRESS, None),
        "c3": (RecipientStatus.SUPPRESSED, None),
        "c4": (RecipientStatus.FAILED, "RuntimeError"),
        "c5": (RecipientStatus.FAILED, "not_found"),
    }
    assert third.after is None
    failed = world.service.recipients(admin(), mailing.id, PageRequest(limit=10), RecipientStatus.FAILED)
    assert [r.contact_id for r in failed.items] == ["c4", "c5"]


def test_throttled_to_the_tenants_rate_across_chunks_and_concurrent_mailings(world: World) -> None:
    world.service.save_settings(admin(), MailingSettings(rate_per_second=3))
    for i in range(20):
        world.recipients.add(person("t1", f"c{i:02d}", f"P{i}", f"p{i}@example.de"))
    mail_to(world, [f"c{i:02d}" for i in range(10)])
    mail_to(world, [f"c{i:02d}" for i in range(10, 20)])
    seconds: list[int] = []
    real_send = world.mailer.send
    world.mailer.send = lambda mail: (seconds.append(int(world.time.now.timestamp())), real_send(mail))  # type: ignore[method-assign]
    world.run_queue()
    assert len(world.mailer.sent) == 20
    per_second = Counter(seconds)
    assert max(per_second.values()) == 3  # never more than the rate, and the rate is used
    assert len(per_second) == 7  # 20 mails at 3 a second take 7 seconds
    # The limit is the tenant's: another tenant's mails do not wait behind these.
    assert world.windows.take("t2", seconds[-1], 3)


def test_default_rate_is_sesish_and_only_admins_change_it(world: World) -> None:
    assert world.service.settings(user()).rate_per_second == 14
    with pytest.raises(Forbidden):
        world.service.save_settings(user(), MailingSettings(rate_per_second=50))


def test_no_recipient_cap_a_filter_of_250_contacts_goes_out_in_checkpointed_chunks(world: World) -> None:
    world.service.save_settings(admin(), MailingSettings(rate_per_second=1))
    assert chunk_size(1) == 30
    for i in range(250):
        world.recipients.add(person("t1", f"c{i:03d}", f"P{i}", f"p{i}@example.de", tags=("News",)))
    world.recipients.add(person("t1", "x1", "NoTag", "x@example.de"))
    mailing = world.service.start(admin(), NewMailing(filter=MailingFilter(tag="News"), subject="s", body="b"))
    ran = world.run_queue()
    assert ran == 9  # 250 / 30, rounded up
    done = world.service.get(admin(), mailing.id)
    assert (done.status, done.counts["sent"], done.total, done.chunk) == (MailingStatus.DONE, 250, 250, 9)
    assert len({m.to for m in world.mailer.sent}) == 250 and "x@example.de" not in {m.to for m in world.mailer.sent}


def test_a_redelivered_chunk_neither_mails_twice_nor_counts_twice(world: World) -> None:
    world.service.save_settings(admin(), MailingSettings(rate_per_second=1))
    for i in range(40):
        world.recipients.add(person("t1", f"c{i:02d}", f"P{i}", f"p{i}@example.de"))
    mailing = mail_to(world, [f"c{i:02d}" for i in range(40)])
    first = dict(world.queue.messages[0])
    world.run_queue(limit=1)
    # The same message again (SQS at-least-once), and a chunk ahead of the checkpoint.
    world.service.run_chunk(MailingChunk.model_validate(first))
    with pytest.raises(TemporarilyUnavailable):
        world.service.run_chunk(MailingChunk.model_validate({**first, "chunk": 5}))
    world.run_queue()
    done = world.service.get(admin(), mailing.id)
    assert len(world.mailer.sent) == 40 and done.counts["sent"] == 40


def test_a_recipient_claimed_by_a_delivery_that_died_is_not_mailed_again(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    mailing = mail_to(world, ["c1"])
    world.store.claim("t1", mailing.id, "c1", world.time.now)  # claimed, then the Lambda died
    world.run_queue()
    assert world.mailer.sent == []
    assert world.service.get(admin(), mailing.id).counts["failed"] == 1


def test_cancel_stops_between_chunks_keeps_counts_and_refuses_a_finished_mailing(world: World) -> None:
    world.service.save_settings(admin(), MailingSettings(rate_per_second=1))
    for i in range(90):
        world.recipients.add(person("t1", f"c{i:02d}", f"P{i}", f"p{i}@example.de"))
    mailing = mail_to(world, [f"c{i:02d}" for i in range(90)])
    world.run_queue(limit=1)
    cancelled = world.service.cancel(admin(), mailing.id)
    assert cancelled.status == MailingStatus.CANCELLED
    world.run_queue()
    after = world.service.get(admin(), mailing.id)
    assert after.status == MailingStatus.CANCELLED and after.counts["sent"] == 30 == len(world.mailer.sent)
    assert world.service.cancel(admin(), mailing.id).status == MailingStatus.CANCELLED  # again: the same answer
    world.recipients.add(person("t1", "d1", "Done", "done@example.de"))
    finished = mail_to(world, ["d1"])
    world.run_queue()
    with pytest.raises(Conflict):
        world.service.cancel(admin(), finished.id)


def test_cancel_during_a_chunk_stops_it_within_a_few_recipients(world: World) -> None:
    for i in range(40):
        world.recipients.add(person("t1", f"c{i:02d}", f"P{i}", f"p{i}@example.de"))
    mailing = mail_to(world, [f"c{i:02d}" for i in range(40)])
    real_send = world.mailer.send

    def send_then_cancel(mail: Any) -> None:
        real_send(mail)
        if len(world.mailer.sent) == 5:
            world.service.cancel(admin(), mailing.id)

    world.mailer.send = send_then_cancel  # type: ignore[method-assign]
    world.run_queue()
    after = world.service.get(admin(), mailing.id)
    assert after.status == MailingStatus.CANCELLED
    assert len(world.mailer.sent) == 10 == after.counts["sent"]  # re-read every 10 recipients


def test_users_mail_only_contacts_they_may_read_admins_all(world: World) -> None:
    world.recipients.add(person("t1", "mine", "Mine", "mine@example.de", managers=("u1",)))
    world.recipients.add(person("t1", "theirs", "Theirs", "theirs@example.de", managers=("u2",)))
    world.recipients.add(
        person("t1", "shared", "Shared", "shared@example.de", managers=("u2",), share=ContactShare.SHARED_READ)
    )
    by_ids = world.service.start(user(), NewMailing(contact_ids=["mine", "theirs", "shared"], subject="s", body="b"))
    by_filter = world.service.start(user(), NewMailing(filter=MailingFilter(), subject="s", body="b"))
    world.run_queue()
    assert Counter(m.to for m in world.mailer.sent) == {"mine@example.de": 2, "shared@example.de": 2}
    results = world.service.recipients(user(), by_ids.id, PageRequest(limit=10), RecipientStatus.FAILED).items
    assert [(r.contact_id, r.reason) for r in results] == [("theirs", "not_found")]
    assert world.service.get(user(), by_filter.id).total == 2
    everyone = world.service.start(admin(), NewMailing(filter=MailingFilter(), subject="s", body="b"))
    world.run_queue()
    assert world.service.get(admin(), everyone.id).counts["sent"] == 3


def test_a_mailing_is_its_creators_and_admins(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    mailing = world.service.start(user(), NewMailing(contact_ids=["c1"], subject="s", body="b"))
    assert world.service.get(admin(), mailing.id).id == mailing.id
    with pytest.raises(NotFound):
        world.service.get(user(user_id="u2"), mailing.id)
    with pytest.raises(NotFound):
        world.service.cancel(user(user_id="u2"), mailing.id)


def test_tenants_are_apart(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    world.recipients.add(person("t2", "c9", "Zoe", "zoe@example.de"))
    mailing = mail_to(world, ["c1", "c9"])  # t2's contact id named by t1's admin
    world.run_queue()
    assert [m.to for m in world.mailer.sent] == ["anna@example.de"]
    with pytest.raises(NotFound):
        world.service.get(admin("t2"), mailing.id)
    # A suppression in t1 does not stop t2's mail to the same address.
    world.suppressions.suppress("t1", address_digest("zoe@example.de"), "unsubscribed", world.time.now)
    world.service.start(admin("t2"), NewMailing(contact_ids=["c9"], subject="s", body="b"))
    world.run_queue()
    assert world.mailer.sent[-1].to == "zoe@example.de"


def _token(world: World) -> str:
    return world.mailer.sent[-1].headers["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]


def test_unsubscribe_suppresses_the_address_for_every_later_mailing(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    mail_to(world, ["c1"])
    world.run_queue()
    assert world.service.unsubscribe(_token(world)) == "t1"
    assert world.service.unsubscribe(_token(world)) == "t1"  # twice: the same
    later = mail_to(world, ["c1"])
    world.run_queue()
    assert len(world.mailer.sent) == 1
    assert world.service.get(admin(), later.id).counts["suppressed"] == 1
    assert ("t1", address_digest("anna@example.de")) in world.suppressions.entries


def test_tampered_or_foreign_tokens_are_refused(world: World) -> None:
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    mail_to(world, ["c1"])
    world.run_queue()
    token = _token(world)
    tenant, _, signed = token.partition(".")
    payload, _, signature = signed.partition(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    cursor = CursorCodec(SECRET).encode({"h": "x", "c": "c1", "m": "m"}, QueryScope("t1", "contacts.list"))
    other_key = CursorCodec(b"another-secret").encode(
        {"h": "x", "c": "c1", "m": "m"}, QueryScope("t1", "mailing.unsubscribe")
    )
    for bad in [
        f"t2.{signed}",  # moved to another tenant
        f"{tenant}.{flipped}.{signature}",  # payload changed
        f"{tenant}.{payload}.{signature[:-2]}",  # signature cut
        f"t1.{cursor}",  # a list cursor, signed with the same key
        f"t1.{other_key}",  # signed with another key
        "garbage",
        "",
    ]:
        with pytest.raises(NotFound):
            world.service.unsubscribe(bad)
    assert world.suppressions.entries == {}


def test_hard_bounces_and_complaints_suppress_soft_bounces_do_not(world: World) -> None:
    hard = bounces.parse(
        {
            "Type": "Notification",
            "Message": '{"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": '
            '[{"emailAddress": "gone@example.de"}]}, "mail": {"headers": [{"name": "X-CRM-Tenant", "value": "t1"}]}}',
        }
    )
    soft = bounces.parse({**bounces.sample("full@example.de", "Transient"), "mail": {"tags": {"tenant": ["t1"]}}})
    complaint = bounces.parse(
        {
            "notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.de"}]},
            "mail": {"tags": {"tenant": ["t1"]}},
        }
    )
    assert hard and soft and complaint
    for found in (hard, soft, complaint):
        world.service.bounced(found)
    assert set(world.suppressions.entries) == {
        ("t1", address_digest("gone@example.de")),
        ("t1", address_digest("angry@example.de")),
    }
    assert bounces.parse(bounces.sample("x@example.de")) is None  # no tenant: nothing to suppress
    assert bounces.parse({"notificationType": "Delivery", "mail": {"tags": {"tenant": ["t1"]}}}) is None
    world.recipients.add(person("t1", "c1", "Gone", "gone@example.de"))
    mailing = mail_to(world, ["c1"])
    world.run_queue()
    assert world.mailer.sent == [] and world.service.get(admin(), mailing.id).counts["suppressed"] == 1


def test_history_events_and_attachments(world: World) -> None:
    world.attachments.files["f1"] = Attachment(filename="offer.pdf", content_type="application/pdf", data=b"%PDF")
    world.recipients.add(person("t1", "c1", "Anna", "anna@example.de"))
    world.recipients.add(person("t1", "c2", "Ben", None))
    mail_to(world, ["c1", "c2"], add_history=True, file_ids=["f1"])
    world.run_queue()
    (mail,) = world.mailer.sent
    assert [a.filename for a in mail.attachments] == ["offer.pdf"]
    assert world.history.events == [("t1", "c1", "Hi Anna")]  # only where a mail went out
    with pytest.raises(NotFound):
        mail_to(world, ["c1"], file_ids=["nope"])


def test_a_selection_needs_exactly_one_of_ids_or_filter() -> None:
    with pytest.raises(ValueError):
        NewMailing(subject="s", body="b")
    with pytest.raises(ValueError):
        NewMailing(contact_ids=["a"], filter=MailingFilter(), subject="s", body="b")
    with pytest.raises(ValueError):
        NewMailing(contact_ids=[], subject="s", body="b")
    assert NewMailing(contact_ids=["a", "a", "b"], subject="s", body="b").contact_ids == ["a", "b"]
