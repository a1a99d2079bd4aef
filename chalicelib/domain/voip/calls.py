"""Calls (VOIP-7, 8): Twilio's callbacks merged into one record per call, and
the call log.

A call is its *parent* Twilio call (the one our voice webhook or the TwiML
app answered); the browser legs (``<Client>``) and the dialled number
(``<Number>``) are its children and report with ``ParentCallSid``. The
callbacks reach the calls queue in any order, any number of times, so the
merge is monotonic: per leg only a higher status rank changes anything (a
repeated or older callback returns None: nothing to write), every write is
conditioned on the version read, and the effects of a finished call (the
contact of an unknown number, the "Phone call" history event, the price)
are each guarded by the record, so a redelivery does none of them twice:
- the contact: claimed on the record before it is created (a concurrent
  message waits for it), found again by its number if a run died after
  creating it;
- the history event: its id is put on the record before the event is
  written; a later change (a late "answered", a voicemail) rewrites its text;
- the price: fetched from Twilio once it is known (Twilio prices a call
  shortly after it ends: a delayed message asks again, a few times).
A finished call settles (those effects run) once it is known who took it:
when the answering leg has reported its end, or, for a call nobody answered
(yet, as far as the callbacks that arrived tell), when a delayed "settle"
message comes back ``SETTLE_SECONDS`` later: callbacks overtaken on the way
have arrived by then, so an early "completed" never turns an answered call
into a missed one, nor makes the wrong person manager of a new contact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.domain.records.history import HistoryKind, system_event
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import CallAccess, Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed, TemporarilyUnavailable
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.voip.models import Call, CallDirection, CallQuery, CallStatus, Recording, VoipAccount
from chalicelib.domain.voip.ports import (
    CallHistory,
    CallQueue,
    CallStore,
    ContactDirectory,
    RecordingBlobs,
    Telephony,
    VoipStore,
)
from chalicelib.domain.voip.service import CredentialCache

PARENT = "parent"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
RANK = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2, "answered": 2, **{s: 3 for s in _FINAL}}
MAX_WRITE_ATTEMPTS = 5
PRICE_ATTEMPTS = 5
PRICE_DELAY_SECONDS = 60
SETTLE_SECONDS = 30
RECORDING_URL_SECONDS = 300
MAX_MANAGERS = 5


class CallMessage(Model):
    """A callback as the webhook queued it (webhooks.VoipWebhooks.callback)."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["voip.status", "voip.recording", "voip.settle"]
    tenant_id: str = Field(min_length=1, max_length=40)
    received_at: datetime
    query: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    call_id: str | None = None  # voip.settle: the call to settle (or price) again


@dataclass(frozen=True)
class LegEvent:
    """One status callback, read: which leg of which call says what."""

    call_sid: str  # the parent call
    leg: str  # PARENT, or the child leg's CallSid
    kind: str  # parent | client | number
    status: str
    at: datetime
    duration: int | None
    caller: str
    callee: str
    number_id: str | None
    contact_id: str | None
    operator_id: str | None

    @property
    def rank(self) -> int:
        return RANK.get(self.status, 0)

    @property
    def final(self) -> bool:
        return self.status in _FINAL

    @property
    def answered(self) -> bool:
        return self.status in ("in-progress", "answered") or (self.status == "completed" and (self.duration or 0) > 0)


def _moment(params: Mapping[str, str], fallback: datetime) -> datetime:
    raw = params.get("Timestamp")
    if raw:
        try:
            return parsedate_to_datetime(raw).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return fallback


def _seconds(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def read_status(message: CallMessage) -> LegEvent | None:
    """The event a status callback describes; None for one we cannot place."""
    params, query = message.params, message.query
    sid, parent = params.get("CallSid", ""), params.get("ParentCallSid", "")
    status = params.get("CallStatus", "")
    if not _SID.match(sid) or status not in RANK:
        return None
    leg = query.get("leg", "")
    kind = leg if leg in ("client", "number") else PARENT
    if kind != PARENT and not _SID.match(parent):
        return None
    return LegEvent(
        call_sid=sid if kind == PARENT else parent,
        leg=PARENT if kind == PARENT else sid,
        kind=kind,
        status=status,
        at=_moment(params, message.received_at),
        duration=_seconds(params.get("CallDuration")),
        caller=params.get("From", ""),
        callee=params.get("To", ""),
        number_id=query.get("number"),
        contact_id=query.get("contact"),
        operator_id=query.get("op"),
    )


def blank_call(tenant_id: str, call_sid: str, at: datetime) -> Call:
    return Call(
        id=new_id(),
        tenant_id=tenant_id,
        call_sid=call_sid,
        started_at=at,
        created_at=at,
        created_by="twilio",
        updated_at=at,
        updated_by="twilio",
    )


def _status(answered_leg: str | None, final: bool) -> CallStatus:
    if answered_leg:
        return CallStatus.ANSWERED
    return CallStatus.MISSED if final else CallStatus.RINGING


def merge_status(call: Call, event: LegEvent) -> Call | None:
    """The call with the event applied, or None when it changes nothing (a
    repeat, or older news of a leg than the call already has)."""
    if event.rank <= call.legs.get(event.leg, -1):
        return None
    u: dict[str, Any] = {"legs": {**call.legs, event.leg: event.rank}}
    participants = list(call.participants)
    started = min(call.started_at, event.at)
    direction, operator = call.direction, call.operator_id
    answered_leg = call.answered_leg
    duration = call.duration
    if event.kind == PARENT:
        if event.caller.startswith("client:"):
            direction = CallDirection.OUTGOING
            operator = operator or event.caller.removeprefix("client:")
        else:
            direction = direction or CallDirection.INCOMING
            if _E164.match(event.caller):
                u["external_number"] = call.external_number or event.caller
            if _E164.match(event.callee):
                u["our_number"] = call.our_number or event.callee
        if event.final:
            u["final"] = True
            u["ended_at"] = event.at
            if event.duration is not None:
                started = min(started, event.at - timedelta(seconds=event.duration))
                # The conversation's own length comes from the answered leg; until
                # that leg's end is known, the whole call's stands in.
                if answered_leg and call.legs.get(answered_leg, -1) < 3:
                    duration = event.duration
    else:
        if event.kind == "client":
            direction = direction or CallDirection.INCOMING
            who = event.callee.removeprefix("client:") if event.callee.startswith("client:") else None
        else:
            direction = CallDirection.OUTGOING
            who = event.operator_id
            if _E164.match(event.callee):
                u["external_number"] = call.external_number or event.callee
        if who and who not in participants:
            participants.append(who)
        u["number_id"] = call.number_id or event.number_id
        u["contact_id"] = call.contact_id or event.contact_id
        if event.kind == "number" and who:
            operator = operator or who
        if event.answered and answered_leg in (None, event.leg):
            answered_leg = event.leg
            if event.kind == "client" and who:
                operator = who
            if event.status != "completed":
                u["answered_at"] = min(call.answered_at or event.at, event.at)
            elif call.answered_at is None and event.duration is not None:
                # Its end overtook its answer (which then changes nothing, being older news
                # of the leg): the conversation began its duration before it ended.
                u["answered_at"] = event.at - timedelta(seconds=event.duration)
        if event.final and answered_leg == event.leg and event.duration is not None:
            duration = event.duration
    if operator and operator not in participants:
        participants.append(operator)
    u.update(
        started_at=started,
        direction=direction,
        operator_id=operator,
        participants=participants,
        answered_leg=answered_leg,
        duration=duration,
        status=_status(answered_leg, bool(u.get("final", call.final))),
    )
    return call.model_copy(update=u)


def duration_text(seconds: int) -> str:
    """3 min 12 s; 45 s; 1 h 2 min 5 s."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def summary(call: Call) -> str:
    """The history event's text (SPEC's VoIP rule: "Incoming call, 3 min 12 s")."""
    outgoing = call.direction == CallDirection.OUTGOING
    if call.status == CallStatus.ANSWERED:
        text = f"{'Outgoing' if outgoing else 'Incoming'} call, {duration_text(call.duration)}"
    else:
        text = "Outgoing call, not answered" if outgoing else "Missed call"
    if call.recording is not None and call.recording.voicemail:
        text += ", voicemail left"
    return text


def positive_price(raw: str | None) -> str | None:
    """Twilio answers a charge as a negative decimal string ("-0.01300")."""
    if raw is None:
        return None
    try:
        return str(abs(Decimal(str(raw))))
    except InvalidOperation:
        return None


class CallEvents:
    """The calls queue's consumer logic (handlers/background/calls.py)."""

    def __init__(
        self,
        calls: CallStore,
        store: VoipStore,
        credentials: CredentialCache,
        telephony: Callable[[Any], Telephony],
        contacts: ContactDirectory,
        history: CallHistory,
        blobs: RecordingBlobs,
        queue: CallQueue,
        clock: Clock = utc_now,
    ):
        self._calls = calls
        self._store = store
        self._credentials = credentials
        self._telephony = telephony
        self._contacts = contacts
        self._history = history
        self._blobs = blobs
        self._queue = queue
        self._clock = clock

    def handle(self, message: CallMessage, message_id: str = "") -> Call | None:
        call: Call | None
        if message.kind == "voip.status":
            event = read_status(message)
            if event is None:
                return None  # nothing we can place; acknowledged, not retried
            call = self._merge(message.tenant_id, event.call_sid, event.at, lambda c: merge_status(c, event))
        elif message.kind == "voip.recording":
            call = self._recording(message)
        else:
            call = self._calls.get(message.tenant_id, message.call_id or "")
        if call is None or not call.final:
            return call
        if message.kind == "voip.settle" or _taken_and_over(call):
            return self._settle(call, message_id or message.received_at.isoformat())
        if not call.settle_queued:
            self._queue.send(_settle_message(call, self._clock()), delay_seconds=SETTLE_SECONDS)
            call = self._change(call, settle_queued=True)
        return call

    # ---- writing the record ----

    def _merge(self, tenant_id: str, call_sid: str, at: datetime, change: Callable[[Call], Call | None]) -> Call:
        for _ in range(MAX_WRITE_ATTEMPTS):
            call_id = self._calls.id_for_sid(tenant_id, call_sid)
            before = self._calls.get(tenant_id, call_id) if call_id else None
            if before is None:
                fresh = blank_call(tenant_id, call_sid, at)
                created = change(fresh) or fresh
                try:
                    return self._calls.create(created, by="twilio")
                except Conflict:
                    continue  # a concurrent callback created it: merge into theirs
            after = change(before)
            if after is None:
                return before
            try:
                return self._calls.update(
                    before, after.model_copy(update={"updated_at": self._clock(), "updated_by": "twilio"}), by="twilio"
                )
            except (PreconditionFailed, Conflict):
                continue  # changed meanwhile: merge into the newer version
        raise TemporarilyUnavailable("The call changed too often meanwhile; the callback is retried.")

    def _change(self, call: Call, **updates: Any) -> Call:
        return self._merge(
            call.tenant_id,
            call.call_sid,
            call.started_at,
            lambda c: c.model_copy(update=updates) if any(getattr(c, k) != v for k, v in updates.items()) else None,
        )

    # ---- recordings ----

    def _recording(self, message: CallMessage) -> Call | None:
        params = message.params
        sid, recording_sid = params.get("CallSid", ""), params.get("RecordingSid", "")
        if params.get("RecordingStatus") != "completed" or not _SID.match(sid) or not _SID.match(recording_sid):
            return None
        voicemail = message.query.get("kind") == "voicemail"

        def opened(c: Call) -> Call | None:
            updates: dict[str, Any] = {}
            if c.direction is None and voicemail:
                updates["direction"] = CallDirection.INCOMING
            if c.number_id is None and message.query.get("number"):
                updates["number_id"] = message.query["number"]
            return c.model_copy(update=updates) if updates else None

        call = self._merge(message.tenant_id, sid, message.received_at, opened)
        if call.recording is not None and call.recording.sid == recording_sid:
            stored = call.recording
        else:
            account, creds = self._account(call.tenant_id)
            key = self._blobs.key(call.tenant_id, call.id, recording_sid)
            content_type = "audio/mpeg"
            if not self._blobs.exists(key):
                data, content_type = self._telephony(creds).recording_media(creds, recording_sid)
                self._blobs.put(key, data, content_type)
            stored = Recording(
                sid=recording_sid,
                key=key,
                content_type=content_type,
                duration=_seconds(params.get("RecordingDuration")) or 0,
                voicemail=voicemail,
            )
            call = self._change(call, recording=stored)
        account, creds = self._account(call.tenant_id)
        if account.delete_recordings_from_twilio and not stored.deleted_from_twilio:
            self._telephony(creds).delete_recording(creds, recording_sid)
            call = self._change(call, recording=stored.model_copy(update={"deleted_from_twilio": True}))
        return call

    # ---- what follows a finished call ----

    def _settle(self, call: Call, claim: str) -> Call:
        call = self._ensure_contact(call, claim)
        call = self._write_history(call)
        return self._price(call)

    def _ensure_contact(self, call: Call, claim: str) -> Call:
        caller = call.external_number
        if call.contact_id or not caller:
            return call
        owners = self._contacts.owners_of(call.tenant_id, caller)
        if owners:
            return self._change(call, contact_id=owners[0], contact_claim=None)
        managers = self._managers(call)
        if not managers:
            return call  # nobody could manage it (a number without operators): the log still has the call
        if call.contact_claim not in (None, claim):
            # Another message is creating it: this one comes back later and finds it.
            raise TemporarilyUnavailable("The caller's contact is being created; retried.")
        if call.contact_claim is None:
            call = self._merge(
                call.tenant_id,
                call.call_sid,
                call.started_at,
                lambda c: c.model_copy(update={"contact_claim": claim}) if c.contact_claim is None else None,
            )
            if call.contact_claim != claim:
                raise TemporarilyUnavailable("The caller's contact is being created; retried.")
        contact_id = self._contacts.create_caller(call.tenant_id, caller, managers, by=managers[0])
        return self._change(call, contact_id=contact_id)

    def _managers(self, call: Call) -> list[str]:
        """Who took or placed the call; for a missed one, the operators it rang
        (else the number's operators)."""
        if call.operator_id:
            return [call.operator_id]
        if call.participants:
            return call.participants[:MAX_MANAGERS]
        number = self._store.get_number(call.tenant_id, call.number_id) if call.number_id else None
        if number is None and call.our_number:
            number = self._store.number_by_phone(call.tenant_id, call.our_number)
        return [o.user_id for o in number.operators][:MAX_MANAGERS] if number else []

    def _write_history(self, call: Call) -> Call:
        contact_id = call.contact_id
        if not contact_id:
            return call
        text = summary(call)
        if call.history_text == text:
            return call
        if call.history_event_id is None:
            call = self._merge(
                call.tenant_id,
                call.call_sid,
                call.started_at,
                lambda c: c.model_copy(update={"history_event_id": new_id()}) if c.history_event_id is None else None,
            )
            assert call.history_event_id is not None
        author = Principal(tenant_id=call.tenant_id, user_id=call.operator_id or "system", role=Role.USER)
        event = system_event(
            author,
            "contact",
            call.contact_id or contact_id,
            text,
            kind=HistoryKind.CALL,
            category_id=self._history.category_id(call.tenant_id),
            happened_at=call.started_at,
            at=self._clock(),
        ).model_copy(update={"id": call.history_event_id})
        try:
            self._history.add(event)
        except Conflict:
            self._history.set_text(call.tenant_id, call.history_event_id, text)
        return self._change(call, history_text=text)

    def _price(self, call: Call) -> Call:
        if call.price is not None or call.price_attempts >= PRICE_ATTEMPTS:
            return call
        account, creds = self._account(call.tenant_id)
        found = self._telephony(creds).call_price(creds, call.call_sid)
        price = positive_price(found[0]) if found else None
        if price is not None and found is not None:
            return self._change(call, price=price, price_unit=found[1].upper())
        attempts = call.price_attempts + 1
        call = self._change(call, price_attempts=attempts)
        if attempts < PRICE_ATTEMPTS:
            self._queue.send(
                _settle_message(call, self._clock()), delay_seconds=min(900, PRICE_DELAY_SECONDS * attempts)
            )
        return call

    def _account(self, tenant_id: str) -> tuple[VoipAccount, Any]:
        account = self._store.get_account(tenant_id)
        if account is None:
            raise NotFound("The tenant has no Twilio account any more.")
        return account, self._credentials.of(account)


def _taken_and_over(call: Call) -> bool:
    """Answered, and the answering leg has reported its end: nothing more to learn."""
    return call.answered_leg is not None and call.legs.get(call.answered_leg, -1) >= RANK["completed"]


def _settle_message(call: Call, now: datetime) -> dict[str, Any]:
    return {"kind": "voip.settle", "tenant_id": call.tenant_id, "call_id": call.id, "received_at": now.isoformat()}


class CallLog:
    """GET /v1/voip/calls: operators see the calls they took part in, admins all."""

    def __init__(self, calls: CallStore, blobs: RecordingBlobs):
        self._calls = calls
        self._blobs = blobs

    def list(self, principal: Principal, query: CallQuery, page: PageRequest) -> Slice[Call]:
        own = None if principal.is_admin else principal.user_id
        return self._calls.list_calls(principal.tenant_id, query, page, only_participant=own)

    def get(self, principal: Principal, call_id: str) -> Call:
        call = self._calls.get(principal.tenant_id, call_id) if re.match(r"^[0-9A-Z]{26}$", call_id) else None
        if call is None:
            raise NotFound("The call does not exist.")
        access.require(principal, Operation.READ, CallAccess(call.participant_set()), what="call")
        return call

    def recording_url(self, principal: Principal, call_id: str) -> str:
        call = self.get(principal, call_id)
        if call.recording is None:
            raise NotFound("The call has no recording.")
        return self._blobs.download_url(call.recording.key, seconds=RECORDING_URL_SECONDS)
