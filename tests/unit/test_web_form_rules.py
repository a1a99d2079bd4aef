"""Web form rules over in-memory fakes (WEB-1..3): stamps, limits, the checks of
a submission, and processing (new contact, duplicate, retries), no moto, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.contacts.models import ContactKind, NewContact
from chalicelib.domain.forms.intake import FormIntake, derived_id
from chalicelib.domain.forms.limits import PER_CLIENT, Limit
from chalicelib.domain.forms.models import FormField, NewWebForm, WebForm, WebFormChanges, check_fields
from chalicelib.domain.forms.service import WebForms
from chalicelib.domain.forms.stamps import MIN_FILL_SECONDS, StampCheck, Stamps, client_digest
from chalicelib.domain.forms.submission import Received, clean, read_body
from chalicelib.domain.identity.models import Tenant, User, UserStatus
from chalicelib.domain.settings.custom_fields import CustomField, FieldEntity, FieldType
from chalicelib.domain.shared.access import ContactShare
from chalicelib.domain.shared.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    TemporarilyUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory.forms import (
    MemoryContacts,
    MemoryCustomFields,
    MemoryDirectory,
    MemoryHistory,
    MemoryNotifier,
    MemoryQueue,
    MemoryWebFormStore,
    person,
)
from chalicelib.storage.memory.limits import MemoryRateCounters

T = "tenant-a"
START = datetime(2030, 5, 6, 10, 0, 5, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def user(user_id: str, role: Role = Role.USER, status: UserStatus = UserStatus.ACTIVE) -> User:
    return User(
        id=user_id,
        tenant_id=T,
        email=f"{user_id}@acme.example",
        name=user_id,
        role=role,
        status=status,
        created_at=START,
        updated_at=START,
    )


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.directory = MemoryDirectory()
        self.directory.tenants[T] = Tenant(id=T, name="Acme", created_at=START, updated_at=START)
        for u in (user("owner", Role.OWNER), user("admin", Role.ADMIN), user("sales"), user("other")):
            self.directory.users[(T, u.id)] = u
        self.store = MemoryWebFormStore()
        self.counters = MemoryRateCounters()
        self.contacts = MemoryContacts(self.directory)
        self.history = MemoryHistory()
        self.custom = MemoryCustomFields()
        self.notifier = MemoryNotifier()
        self.queue = MemoryQueue()
        self.stamps = Stamps(b"k" * 32)
        self.forms = WebForms(self.store, self.directory, self.custom, self.stamps, clock=self.clock)
        self.intake = FormIntake(
            self.store,
            self.counters,
            self.directory,
            self.contacts,
            self.contacts,
            self.history,
            self.custom,
            self.notifier,
            self.queue,
            self.stamps,
            client_key=b"c" * 32,
            clock=self.clock,
        )
        self.admin = Principal(tenant_id=T, user_id="admin", role=Role.ADMIN)

    def form(self, **overrides: Any) -> WebForm:
        request = {
            "name": "Contact us",
            "fields": [
                {"field": "first_name", "required": True},
                {"field": "last_name", "required": True},
                {"field": "email", "required": True},
                {"field": "phone", "category": "mobile"},
                {"field": "company_name"},
            ],
            "tags": ["Lead"],
            "manager_ids": ["sales"],
            "notify_user_ids": ["other"],
            "return_url": "https://www.acme.example/thanks",
            **overrides,
        }
        return self.forms.create(self.admin, NewWebForm.model_validate(request))

    def send(self, form: WebForm, values: dict[str, Any], *, ip: str = "203.0.113.1", wait: float = 5) -> Any:
        import json

        stamp = self.stamps.issue(form.id, self.clock.now)
        self.clock.now += timedelta(seconds=wait)
        body = json.dumps({"crm_stamp": stamp, **values}).encode()
        return self.intake.submit(self.intake.open(form.key), body, "application/json", ip)


ANNA = {"first_name": "Anna", "last_name": "Müller", "email_work": "Anna@Example.DE"}


@pytest.fixture
def world() -> World:
    return World()


# ---- stamps, client digests, limits ----


def test_a_stamp_proves_the_fill_time_and_cannot_be_forged_or_moved():
    stamps = Stamps(b"secret" * 6)
    stamp = stamps.issue("form-1", START)
    at = START + timedelta(seconds=MIN_FILL_SECONDS)
    assert stamps.check("form-1", stamp, at) == StampCheck.OK
    assert stamps.check("form-1", stamp, at - timedelta(seconds=1)) == StampCheck.TOO_FAST
    assert stamps.check("form-2", stamp, at) == StampCheck.FORGED, "bound to its form"
    assert Stamps(b"other" * 7).check("form-1", stamp, at) == StampCheck.FORGED
    seconds, signature = stamp.split(".")
    assert stamps.check("form-1", f"{int(seconds) - 100}.{signature}", at) == StampCheck.FORGED
    future = stamps.issue("form-1", START + timedelta(hours=1))
    assert stamps.check("form-1", future, at) == StampCheck.FORGED
    assert stamps.check("form-1", None, at) == StampCheck.MISSING
    assert stamps.check("form-1", "garbage", at) == StampCheck.FORGED


def test_clients_are_counted_by_address_and_ipv6_by_its_64_prefix():
    key = b"k" * 32
    assert client_digest(key, "2001:db8:1:2::1") == client_digest(key, "2001:db8:1:2:ffff::9")
    assert client_digest(key, "2001:db8:1:2::1") != client_digest(key, "2001:db8:1:3::1")
    assert client_digest(key, "::ffff:203.0.113.5") == client_digest(key, "203.0.113.5")
    assert client_digest(key, "203.0.113.5") != client_digest(key, "203.0.113.6")
    assert "203.0.113.5" not in client_digest(key, "203.0.113.5")


def test_retry_after_points_at_the_end_of_the_window():
    limit = Limit("ip", hits=5, window_seconds=60)
    assert limit.retry_after(120.0) == 60
    assert limit.retry_after(179.2) == 1
    assert limit.window(179.9) + 1 == limit.window(179.9 + limit.retry_after(179.9))


# ---- form definitions ----


def test_a_form_asks_what_its_kind_needs_once():
    def asked(*names: str) -> list[FormField]:
        return [FormField(field=n, required=True) for n in names]  # type: ignore[arg-type]

    assert check_fields(ContactKind.PERSON, asked("first_name", "last_name")) == []
    assert check_fields(ContactKind.PERSON, asked("first_name"))
    assert check_fields(ContactKind.COMPANY, asked("company_name", "job_title"))
    assert check_fields(ContactKind.PERSON, asked("first_name", "last_name", "first_name"))
    two_phones = [*asked("first_name", "last_name"), FormField(field="phone", category="work")]
    two_phones.append(FormField(field="phone", category="mobile"))  # type: ignore[arg-type]
    assert check_fields(ContactKind.PERSON, two_phones) == []
    assert [f.input_name for f in two_phones[2:]] == ["phone_work", "phone_mobile"]
    with pytest.raises(ValueError):
        FormField(field="email", category="mobile")  # type: ignore[arg-type]


def test_origins_are_normalised_and_only_listed_ones_pass(world):
    form = world.form(allowed_origins=["HTTPS://WWW.Acme.Example:443/", "http://localhost:8080"])
    assert form.allowed_origins == ["https://www.acme.example", "http://localhost:8080"]
    assert form.allows_origin("https://www.acme.example")
    assert not form.allows_origin("https://acme.example") and not form.allows_origin("null")
    assert world.form().allowed_origins == ["https://www.acme.example"], "default: the return URL's origin"


def test_only_admins_manage_forms_and_a_rotated_key_retires_the_old_one(world):
    form = world.form()
    with pytest.raises(Forbidden):
        world.forms.get(Principal(tenant_id=T, user_id="sales", role=Role.USER), form.id)
    with pytest.raises(NotFound):
        world.forms.get(Principal(tenant_id="tenant-b", user_id="admin", role=Role.ADMIN), form.id)
    rotated = world.forms.rotate_key(world.admin, form.id, expected_version=1)
    assert rotated.key != form.key and world.store.find_by_key(form.key) is None
    with pytest.raises(NotFound):
        world.intake.open(form.key)
    assert world.intake.open(rotated.key).form.id == form.id
    with pytest.raises(PreconditionFailed):
        world.forms.update(world.admin, form.id, WebFormChanges(name="New"), expected_version=1)


def test_inactive_users_and_foreign_custom_fields_are_refused(world):
    world.directory.users[(T, "gone")] = user("gone", status=UserStatus.DEACTIVATED)
    with pytest.raises(ValidationFailed) as refused:
        world.form(manager_ids=["gone"], notify_user_ids=["nobody"])
    assert {e.field for e in refused.value.errors} == {"manager_ids", "notify_user_ids"}
    deal_field = CustomField(
        id="cf-deal", entity=FieldEntity.DEAL, label="Deal thing", type=FieldType.TEXT, order=1, **_stamps()
    )
    world.custom.fields[deal_field.id] = deal_field
    with pytest.raises(ValidationFailed):
        world.form(
            fields=[
                {"field": "first_name", "required": True},
                {"field": "last_name", "required": True},
                {"field": "custom", "custom_field_id": "cf-deal"},
            ]
        )


def _stamps() -> dict[str, Any]:
    return {"created_at": START, "updated_at": START}


# ---- reading and checking a submission ----


def test_form_encoded_bodies_nest_address_parts_and_other_media_types_are_refused():
    received = read_body(
        b"address_work.street=K%C3%B6nigstr.+1&address_work.city=Berlin&first_name=A",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert received.values == {"address_work": {"street": "Königstr. 1", "city": "Berlin"}, "first_name": "A"}
    with pytest.raises(UnsupportedMediaType):
        read_body(b"x", "text/plain")


def test_only_asked_fields_are_read_and_each_problem_is_named(world):
    budget = CustomField(
        id="cf-budget",
        entity=FieldEntity.PERSON,
        label="Budget",
        type=FieldType.SELECT,
        options=["small", "large"],
        order=1,
        **_stamps(),
    )
    newsletter = CustomField(
        id="cf-news", entity=FieldEntity.CONTACT, label="Newsletter", type=FieldType.CHECKBOX, order=2, **_stamps()
    )
    fields = [
        {"field": "first_name", "required": True},
        {"field": "last_name", "required": True},
        {"field": "email", "required": True},
        {"field": "address", "category": "postal", "required": True},
        {"field": "custom", "custom_field_id": "cf-budget", "required": True},
        {"field": "custom", "custom_field_id": "cf-news"},
    ]
    world.custom.fields.update({budget.id: budget, newsletter.id: newsletter})
    form = world.form(fields=fields, consent_text="I agree.")
    custom = {budget.id: budget, newsletter.id: newsletter}
    bad = Received(
        {"first_name": "Anna", "email_work": "x@", "cf_cf-budget": "huge", "address_postal": {"city": "B"}}, True
    )
    with pytest.raises(ValidationFailed) as refused:
        clean(form, bad, custom, "DE")
    assert {e.field for e in refused.value.errors} == {
        "last_name",
        "email_work",
        "cf_cf-budget",
        "address_postal.street",
        "address_postal.zip",
        "address_postal.country",
        "consent",
    }
    good = Received(
        {
            **ANNA,
            "address_postal": {"street": "Königstr. 1", "zip": "10115", "city": "Berlin", "country": "DE"},
            "cf_cf-budget": "large",
            "cf_cf-news": "on",
            "consent": "on",
            "managers": ["x"],
            "access": "shared_write",
            "tags": ["VIP"],
            "job_title": "CEO",
        },
        False,
    )
    cleaned = clean(form, good, custom, "DE")
    assert cleaned.contact == {"first_name": "Anna", "last_name": "Müller"}
    assert cleaned.custom_fields == {"cf-budget": "large", "cf-news": True}
    assert cleaned.emails == ["anna@example.de"] and cleaned.consent
    assert [d["type"] for d in cleaned.details] == ["email", "address"]


def test_a_custom_field_deleted_since_never_refuses_a_lead():
    # Built directly: the service (rightly) refuses a form naming a field that does not exist.
    form = WebForm(
        id="01J0000000000000000000FORM",
        tenant_id=T,
        name="Old",
        kind=ContactKind.PERSON,
        fields=[
            FormField(field="first_name", required=True),  # type: ignore[arg-type]
            FormField(field="last_name", required=True),  # type: ignore[arg-type]
            FormField(field="custom", custom_field_id="cf-gone", required=True),  # type: ignore[arg-type]
        ],
        return_url="https://x.example/",
        key="k" * 43,
        **_stamps(),
    )
    assert clean(form, Received({"first_name": "A", "last_name": "B"}, True), {}, "DE").contact == {
        "first_name": "A",
        "last_name": "B",
    }


# ---- intake and processing ----


def test_a_lead_becomes_a_contact_with_the_forms_settings_only(world):
    form = world.form(access="shared_read")
    outcome = world.send(form, {**ANNA, "phone_mobile": "030 123456", "managers": ["other"], "access": "shared_write"})
    assert outcome.accepted and not outcome.dropped and not outcome.deferred
    [contact] = world.contacts.of_tenant(T)
    assert contact.id == derived_id(outcome.submission_id, "contact")
    assert (contact.tags, contact.access, contact.managers) == (["Lead"], ContactShare.SHARED_READ, ["sales"])
    assert contact.created_by == f"web-form:{form.id}"
    assert contact.phones() == ["+4930123456"]
    [event] = world.history.of(contact.id)
    assert "Anna" in event.text and "Contact us" in event.text
    [note] = world.notifier.sent
    assert note.user_ids == ["other"] and note.link == f"/v1/contacts/{contact.id}"


def test_a_person_is_linked_to_the_company_of_that_name_or_a_new_one(world):
    form = world.form()
    acme = world.contacts.create(
        world.admin,
        world.directory.tenants[T],
        NewContact(kind=ContactKind.COMPANY, company_name="ACME GmbH"),
    )
    world.send(form, {**ANNA, "company_name": "acme gmbh"})
    world.send(form, {**ANNA, "email_work": "ben@example.de", "first_name": "Ben", "company_name": "Newco"})
    people = {c.first_name: c for c in world.contacts.of_tenant(T) if c.kind == ContactKind.PERSON}
    assert people["Anna"].company_id == acme.id
    newco = world.contacts.get(T, people["Ben"].company_id or "")
    assert newco is not None and newco.company_name == "Newco" and newco.managers == ["sales"]


def test_a_known_address_adds_to_that_contact_and_tells_who_may_see_it(world):
    known = world.contacts.add(
        person(
            T,
            "Anna",
            "Known",
            managers=["admin"],
            details=[{"type": "email", "category": "work", "value": "anna@example.de", "primary": True}],
        )
    )
    form = world.form()
    outcome = world.send(form, {**ANNA, "first_name": "Fake"})
    assert outcome.accepted
    assert [c.id for c in world.contacts.of_tenant(T)] == [known.id], "no duplicate"
    assert world.contacts.get(T, known.id) == known, "nothing about the contact changes"
    assert len(world.history.of(known.id)) == 1
    [note] = world.notifier.sent
    # "other" is listed on the form but may not see this private contact: not told.
    assert note.user_ids == ["admin"] and "again" in note.subject


def test_processing_is_idempotent_when_retried_after_a_partial_failure(world):
    form = world.form()
    real_add = world.history.add_event
    calls = {"n": 0}

    def flaky(event: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TemporarilyUnavailable("busy")
        real_add(event)

    world.history.add_event = flaky  # type: ignore[method-assign]
    outcome = world.send(form, ANNA)
    assert outcome.accepted and outcome.deferred
    [message] = world.queue.messages
    from chalicelib.domain.forms.submission import FormSubmission

    job = FormSubmission.model_validate(message)
    first = world.intake.process(job)
    again = world.intake.process(job)
    assert first == again == derived_id(outcome.submission_id, "contact")
    assert len(world.contacts.of_tenant(T)) == 1 and len(world.history.events) == 1
    assert len(world.notifier.sent) == 1


def test_when_neither_processing_nor_the_queue_works_the_visitor_hears_of_it(world):
    form = world.form()
    world.contacts.fail_next_create = TemporarilyUnavailable("busy")
    world.queue.broken = True
    with pytest.raises(ConnectionError):
        world.send(form, ANNA)


def test_inactive_managers_hand_new_leads_to_an_owner(world):
    form = world.form()
    world.directory.users[(T, "sales")] = user("sales", status=UserStatus.DEACTIVATED)
    world.send(form, ANNA)
    [contact] = world.contacts.of_tenant(T)
    assert contact.managers == ["owner"]


def test_bots_are_dropped_quietly_and_cost_the_form_nothing(world):
    form = world.form()
    honeypot = world.send(form, {**ANNA, "homepage_url": "http://spam.example"})
    too_fast = world.send(form, ANNA, ip="203.0.113.2", wait=1)
    assert honeypot.accepted and honeypot.dropped == "honeypot" and honeypot.submission_id
    assert too_fast.accepted and too_fast.dropped == "stamp too_fast"
    assert world.contacts.of_tenant(T) == [] and world.notifier.sent == []
    assert not any(counter.scope == "form" for counter in world.counters.hits)


def test_a_client_over_its_limit_gets_429_with_retry_after_and_its_answers_back(world):
    form = world.form()
    for _ in range(PER_CLIENT.hits):
        world.send(form, {"first_name": "x"}, wait=3)
    refused = world.send(form, ANNA, wait=3)
    assert refused.error is not None and refused.error.retry_after >= 1  # type: ignore[attr-defined]
    assert refused.values["first_name"] == "Anna"
    world.clock.now += timedelta(seconds=refused.error.retry_after)  # type: ignore[attr-defined]
    retried = world.send(form, ANNA)
    assert retried.accepted and not retried.dropped and len(world.contacts.of_tenant(T)) == 1
