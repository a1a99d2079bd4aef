"""Telephony rules over the in-memory fakes (no moto, no HTTP): the call
merge in every order, duplicates, settling once, the history text, the
account's secret handling and the call log's access."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.shared.access import CallAccess, Operation, allowed
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.voip import calls as call_rules
from chalicelib.domain.voip.calls import CallEvents, CallLog, CallMessage, duration_text, merge_status, read_status
from chalicelib.domain.voip.models import AccountIn, CallQuery, CallStatus, NumberSource, Operator, VoipNumber
from chalicelib.domain.voip.service import CredentialCache, Voip
from chalicelib.storage.memory.twilio_api import FakeTwilioApi, fake_http_client
from chalicelib.storage.memory.voip import (
    MemoryBlobs,
    MemoryCallStore,
    MemoryContacts,
    MemoryHistory,
    MemoryOperators,
    MemoryQueue,
    MemoryVault,
    MemoryVoipStore,
)
from chalicelib.storage.twilio import telephony_for
from tests.voip_helpers import ACCOUNT_SID, AUTH_TOKEN, call_sid, recording_sid

T = "tenant1"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OWNER = Principal(tenant_id=T, user_id="owner", role=Role.OWNER)
ANNA = Principal(tenant_id=T, user_id="anna", role=Role.USER)


class World:
    def __init__(self) -> None:
        self.store = MemoryVoipStore()
        self.calls = MemoryCallStore()
        self.vault = MemoryVault()
        self.credentials = CredentialCache(self.vault)
        self.fake = FakeTwilioApi(accounts={ACCOUNT_SID: AUTH_TOKEN})
        self.telephony = lambda creds: telephony_for(creds, http_client=fake_http_client(self.fake))
        self.operators = MemoryOperators({(T, "anna"): "user", (T, "ben"): "user", (T, "owner"): "owner"})
        self.contacts = MemoryContacts()
        self.history = MemoryHistory()
        self.blobs = MemoryBlobs()
        self.queue = MemoryQueue()
        self.voip = Voip(
            self.store,
            self.vault,
            self.credentials,
            self.telephony,
            self.operators,
            public_url="https://crm.example.com",
            clock=lambda: NOW,
        )
        self.events = CallEvents(
            self.calls,
            self.store,
            self.credentials,
            self.telephony,
            self.contacts,
            self.history,
            self.blobs,
            self.queue,
            clock=lambda: NOW,
        )
        self.voip.save_account(OWNER, AccountIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN))
        self.number = self.store.add_number(
            VoipNumber(
                id="num1",
                tenant_id=T,
                phone_number="+4930555000",
                twilio_sid="PN" + "1" * 32,
                source=NumberSource.BOUGHT,
                operators=[Operator(user_id="anna"), Operator(user_id="ben")],
                created_at=NOW,
                updated_at=NOW,
            )
        )

    def deliver(self, messages: list[CallMessage]) -> None:
        for index, message in enumerate(messages):
            self.events.handle(message, f"m{index}")
        # The settle messages the consumer queued come back (their delay elapsed).
        while self.queue.sent:
            queued, self.queue.sent = self.queue.sent, []
            for body, _ in queued:
                self.events.handle(CallMessage.model_validate(body), "settle")

    def call(self) -> Any:
        (only,) = self.calls.calls.values()
        return only


def status(
    sid: str, state: str, *, parent: str | None = None, duration: int | None = None, **extra: str
) -> CallMessage:
    params = {"CallSid": sid, "CallStatus": state, "From": "+491705550100", "To": "+4930555000"}
    query: dict[str, str] = {}
    if parent:
        params["ParentCallSid"] = parent
        query = {"leg": "client", "number": "num1"}
    if duration is not None:
        params["CallDuration"] = str(duration)
    params.update(extra)
    return CallMessage(kind="voip.status", tenant_id=T, received_at=NOW, query=query, params=params)


def answered_by_anna() -> list[CallMessage]:
    parent, anna, ben = call_sid(1), call_sid(2), call_sid(3)
    return [
        status(anna, "in-progress", parent=parent, To="client:anna"),
        status(ben, "canceled", parent=parent, To="client:ben"),
        status(anna, "completed", parent=parent, duration=192, To="client:anna"),
        status(parent, "completed", duration=200),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_every_order_of_the_callbacks_makes_the_same_call(order: tuple[int, ...]) -> None:
    world = World()
    events = answered_by_anna()
    world.deliver([events[i] for i in order])
    call = world.call()
    assert (call.status, call.operator_id, call.duration) == (CallStatus.ANSWERED, "anna", 192)
    # Also when the answering leg's end overtook its answer (issue 19.4: that order lost it).
    assert call.answered_at is not None and call.answered_at <= call.ended_at
    assert set(call.participants) == {"anna", "ben"} and call.external_number == "+491705550100"
    # One new person, managed by the operator who took the call; one history event.
    assert world.contacts.created == [(T, "+491705550100", ["anna"])]
    assert [e.text for e in world.history.events.values()] == ["Incoming call, 3 min 12 s"]
    (event,) = world.history.events.values()
    assert event.author_id == "anna" and event.category_id == "cat-phone" and event.kind == "call"
    assert (call.price, call.price_unit) == ("0.01300", "USD")


def test_a_repeated_callback_writes_nothing() -> None:
    world = World()
    world.deliver(answered_by_anna())
    writes, version = world.calls.writes, world.call().version
    world.deliver(answered_by_anna() + answered_by_anna())
    assert (world.calls.writes, world.call().version) == (writes, version)
    assert len(world.history.events) == 1 and len(world.contacts.created) == 1


def test_an_older_status_of_a_leg_changes_nothing() -> None:
    call = call_rules.blank_call(T, call_sid(1), NOW)
    completed = read_status(status(call_sid(2), "completed", parent=call_sid(1), duration=5, To="client:anna"))
    ringing = read_status(status(call_sid(2), "ringing", parent=call_sid(1), To="client:anna"))
    assert completed is not None and ringing is not None
    after = merge_status(call, completed)
    assert after is not None and merge_status(after, ringing) is None and merge_status(after, completed) is None


def test_a_missed_call_waits_for_the_settle_message_then_names_the_rung_operators() -> None:
    world = World()
    parent, ben = call_sid(1), call_sid(3)
    world.events.handle(status(parent, "completed", duration=25), "m1")
    assert world.contacts.created == [] and world.history.events == {}
    assert [m["kind"] for m, delay in world.queue.sent] == ["voip.settle"]
    assert world.queue.sent[0][1] == call_rules.SETTLE_SECONDS
    world.deliver([status(ben, "no-answer", parent=parent, To="client:ben")])
    assert world.call().status == CallStatus.MISSED
    assert world.contacts.created == [(T, "+491705550100", ["ben"])]
    assert [e.text for e in world.history.events.values()] == ["Missed call"]


def test_a_known_caller_gets_the_event_and_no_new_contact() -> None:
    from chalicelib.domain.contacts.models import Contact

    world = World()
    world.contacts.add(
        Contact(
            id="c1",
            tenant_id=T,
            kind="person",
            first_name="Eva",
            last_name="Known",
            details=[{"type": "phone", "category": "work", "value": "+491705550100", "primary": True}],
            created_at=NOW,
            updated_at=NOW,
        )
    )
    world.deliver(answered_by_anna())
    assert world.call().contact_id == "c1" and world.contacts.created == []
    assert [e.parent.id for e in world.history.events.values()] == ["c1"]


def test_a_concurrent_contact_creation_is_waited_for() -> None:
    world = World()
    world.deliver(answered_by_anna()[:3])
    call = world.call()
    claimed = world.calls.update(call, call.model_copy(update={"contact_claim": "another message"}), by="x")
    assert claimed.contact_claim == "another message"
    with pytest.raises(Exception, match="being created"):
        world.events.handle(answered_by_anna()[3], "mine")
    assert world.contacts.created == []


def test_a_recording_is_copied_once_and_deleted_at_twilio_when_the_tenant_wants() -> None:
    world = World()
    world.voip.save_account(
        OWNER,
        AccountIn(account_sid=ACCOUNT_SID, delete_recordings_from_twilio=True),
        expected_version=world.store.get_account(T).version,  # type: ignore[union-attr]
    )
    message = CallMessage(
        kind="voip.recording",
        tenant_id=T,
        received_at=NOW,
        query={"kind": "voicemail", "number": "num1"},
        params={"CallSid": call_sid(1), "RecordingSid": recording_sid(1), "RecordingStatus": "completed"},
    )
    world.deliver([message, message])
    call = world.call()
    assert call.recording is not None and call.recording.voicemail and call.recording.deleted_from_twilio
    assert list(world.blobs.objects) == [call.recording.key] and call.recording.key.startswith(f"t/{T}/")
    assert recording_sid(1) in world.fake.deleted_recordings
    media = [r for r in world.fake.requests if r[1].endswith(".mp3")]
    assert len(media) == 1


def test_duration_and_history_text() -> None:
    assert [duration_text(s) for s in (0, 45, 60, 192, 3725)] == ["0 s", "45 s", "1 min", "3 min 12 s", "1 h 2 min 5 s"]


def test_the_call_log_shows_operators_their_own_calls() -> None:
    world = World()
    world.deliver(answered_by_anna())
    log = CallLog(world.calls, world.blobs)
    call = world.call()
    ben = Principal(tenant_id=T, user_id="ben", role=Role.USER)
    carl = Principal(tenant_id=T, user_id="carl", role=Role.USER)
    assert [c.id for c in log.list(ben, CallQuery(), PageRequest()).items] == [call.id]
    assert log.list(carl, CallQuery(), PageRequest()).items == []
    assert log.list(carl, CallQuery(operator_id="anna"), PageRequest()).items == []
    with pytest.raises(NotFound):
        log.get(carl, call.id)
    assert log.get(OWNER, call.id).id == call.id
    # The access matrix row: participants read, nobody else; nobody edits the log.
    record = CallAccess(frozenset({"anna"}))
    assert allowed(ANNA, Operation.READ, record) and not allowed(ANNA, Operation.WRITE, record)
    assert not allowed(ben, Operation.READ, record) and allowed(OWNER, Operation.READ, record)


# ---- the account ----


def test_a_new_account_needs_its_token_and_the_token_stays_in_the_vault() -> None:
    world = World()
    with pytest.raises(ValidationFailed):
        world.voip.save_account(OWNER, AccountIn(account_sid="AC" + "1" * 32))
    account = world.store.get_account(T)
    assert account is not None and AUTH_TOKEN not in account.model_dump_json()
    assert world.vault.secrets[account.secret_ref]["auth_token"] == AUTH_TOKEN
    assert AUTH_TOKEN not in repr(world.credentials.of(account))
    with pytest.raises(Forbidden):
        world.voip.account(ANNA)


def test_credentials_are_read_from_the_vault_once_per_secret_version() -> None:
    world = World()
    account = world.store.get_account(T)
    assert account is not None
    reads = world.vault.reads
    for _ in range(3):
        world.credentials.of(account)
    assert world.vault.reads == reads + 1
    changed = world.voip.save_account(
        OWNER, AccountIn(account_sid=ACCOUNT_SID, auth_token="a" * 32), expected_version=account.version
    )
    assert world.credentials.of(changed).auth_token == "a" * 32


def test_a_voice_token_needs_the_account_test_first() -> None:
    world = World()
    with pytest.raises(Conflict):
        world.voip.voice_token(ANNA)
    assert world.voip.test_account(OWNER).ok
    token = world.voip.voice_token(ANNA)
    assert token.identity == "anna" and token.expires_in == 3600
    with pytest.raises(Forbidden):
        world.voip.voice_token(Principal(tenant_id=T, user_id="carl", role=Role.USER))


def test_timestamps_place_the_start_of_a_call() -> None:
    ended = NOW + timedelta(minutes=5)
    message = status(call_sid(1), "completed", duration=60, Timestamp=ended.strftime("%a, %d %b %Y %H:%M:%S +0000"))
    event = read_status(message)
    assert event is not None and event.at == ended
    merged = merge_status(call_rules.blank_call(T, call_sid(1), ended), event)
    assert merged is not None and merged.started_at == ended - timedelta(seconds=60) and merged.final
