"""Twilio's webhooks (VOIP-5, 6, 7, 9): public, signed, fast.

Every request is checked first: the ``{hook}`` names the tenant and its
unguessable key, and ``X-Twilio-Signature`` must be the tenant's auth token's
signature (the twilio library's RequestValidator) of ``CRM_PUBLIC_URL`` +
path + query and the form parameters. Anything else is 403 — a request
signed with another tenant's token too.

The voice webhooks answer TwiML at once from what the request says (no
write on the way): the number's online operators ring in their browsers, the
caller's contact (the phone index search uses) travels to the operators who
may see it as client parameters. Status and recording callbacks are only
queued (the calls queue, calls.py processes them); the context a callback
needs comes back in the query of the callback URLs we hand Twilio, covered by
the signature.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, iso, utc_now
from chalicelib.domain.shared.errors import Forbidden
from chalicelib.domain.voip.models import PresenceStatus, TwilioCredentials, VoipAccount, VoipNumber, valid_identity
from chalicelib.domain.voip.ports import CallQueue, ContactDirectory, OperatorDirectory, VoipStore
from chalicelib.domain.voip.service import CredentialCache, webhook_base

_TENANT = re.compile(r"^[0-9A-Za-z]{1,40}$")
_KEY = re.compile(r"^[0-9A-Za-z_-]{16,64}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
CLIENT_PREFIX = "client:"
VOICEMAIL_SECONDS = 120
# What a callback message keeps of Twilio's form (nothing else is queued or stored).
CALLBACK_FIELDS = (
    "CallSid",
    "ParentCallSid",
    "CallStatus",
    "CallDuration",
    "From",
    "To",
    "Direction",
    "Timestamp",
    "SequenceNumber",
    "RecordingSid",
    "RecordingStatus",
    "RecordingDuration",
)
CALLBACK_QUERY = ("leg", "number", "contact", "op", "kind")
NOBODY = "Sorry, nobody can take your call right now."
LEAVE_MESSAGE = "Please leave a message after the tone."
NOT_ALLOWED = "This call cannot be made."


@dataclass(frozen=True)
class WebhookRequest:
    hook: str
    # The request path as Twilio called it (``/twilio/<hook>/voice``), its query and form.
    path: str
    query: Mapping[str, str]
    params: Mapping[str, str]
    signature: str | None


@dataclass(frozen=True)
class Verified:
    account: VoipAccount
    creds: TwilioCredentials
    base: str


def callback_url(base: str, hook: str, **query: str | None) -> str:
    """A callback URL with its query in the one order verification rebuilds."""
    values = sorted((k, v) for k, v in query.items() if v)
    return f"{base}/{hook}" + (f"?{urlencode(values)}" if values else "")


def signed_url(public_url: str, path: str, query: Mapping[str, str]) -> str:
    values = sorted(query.items())
    return public_url.rstrip("/") + path + (f"?{urlencode(values)}" if values else "")


def signature_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    from twilio.request_validator import RequestValidator

    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


class VoipWebhooks:
    def __init__(
        self,
        store: VoipStore,
        credentials: CredentialCache,
        contacts: ContactDirectory,
        operators: OperatorDirectory,
        queue: CallQueue,
        *,
        public_url: str,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._credentials = credentials
        self._contacts = contacts
        self._operators = operators
        self._queue = queue
        self._public_url = public_url
        self._clock = clock

    # ---- VOIP-9 ----

    def verify(self, request: WebhookRequest) -> Verified:
        refused = Forbidden("The request is not signed by Twilio for this webhook.")
        tenant_id, _, key = request.hook.partition(".")
        if not self._public_url or not _TENANT.match(tenant_id) or not _KEY.match(key):
            raise refused
        account = self._store.get_account(tenant_id)
        if account is None or not hmac.compare_digest(account.webhook_key.encode(), key.encode()):
            raise refused
        creds = self._credentials.of(account)
        url = signed_url(self._public_url, request.path, request.query)
        if not signature_valid(creds.auth_token, url, request.params, request.signature):
            raise refused
        base = webhook_base(self._public_url, account)
        assert base is not None  # public_url is set
        return Verified(account, creds, base)

    # ---- VOIP-5: a call to one of our numbers ----

    def voice(self, request: WebhookRequest) -> str:
        verified = self.verify(request)
        after = request.query.get("after")
        tenant_id = verified.account.tenant_id
        number = self._store.number_by_phone(tenant_id, request.params.get("To", ""))
        if number is None:
            return _reject()
        if after == "voicemail":
            return _hang_up()
        if after == "dial":
            if request.params.get("DialCallStatus") in ("completed", "answered"):
                return _hang_up()
            return _voicemail(verified.base, number) if number.voicemail else _say_and_hang_up(NOBODY)
        online = {p.user_id for p in self._store.presence(tenant_id) if p.status == PresenceStatus.ONLINE}
        wanted = [o.user_id for o in number.operators if o.user_id in online and valid_identity(o.user_id)]
        principals = self._operators.active_principals(tenant_id, wanted) if wanted else []
        if not principals:
            if number.voicemail:
                return _voicemail(verified.base, number)
            return _say_and_hang_up(NOBODY)
        caller = request.params.get("From", "")
        contact = self._caller_contact(tenant_id, caller)
        targets = []
        for principal in sorted(principals, key=lambda p: wanted.index(p.user_id)):
            params = {"number_id": number.id, "caller": caller}
            if number.alias:
                params["number_alias"] = number.alias
            if contact is not None and access.allowed(principal, Operation.READ, contact.access_record()):
                params.update(contact_id=contact.id, contact_name=contact.display_name)
            targets.append((principal.user_id, params))
        record = number.records_for([p.user_id for p in principals])
        return _ring(verified.base, number, targets, record, contact.id if contact else None)

    def _caller_contact(self, tenant_id: str, caller: str) -> Any:
        if not _E164.match(caller):
            return None
        for contact_id in self._contacts.owners_of(tenant_id, caller):
            found = self._contacts.find(tenant_id, contact_id)
            if found is not None:
                return found
        return None

    # ---- VOIP-6: an operator calls out from the browser (the TwiML app) ----

    def outgoing(self, request: WebhookRequest) -> str:
        verified = self.verify(request)
        tenant_id = verified.account.tenant_id
        caller = request.params.get("From", "")
        user_id = caller.removeprefix(CLIENT_PREFIX) if caller.startswith(CLIENT_PREFIX) else ""
        numbers = self._store.list_numbers(tenant_id)
        number_id = request.params.get("number_id")
        number = next((n for n in numbers if n.id == number_id), None) if number_id else None
        if number is None and not number_id:
            number = next((n for n in numbers if n.may_call_out(user_id)), None)
        principals = self._operators.active_principals(tenant_id, [user_id]) if user_id else []
        if number is None or not principals or not number.may_call_out(user_id):
            return _say_and_hang_up(NOT_ALLOWED)
        target = request.params.get("To", "").strip()
        contact_id = request.params.get("contact_id") or None
        if contact_id is not None:
            contact = self._contacts.find(tenant_id, contact_id)
            # Only a contact the operator may see, and only one of its numbers.
            if (
                contact is None
                or not access.allowed(principals[0], Operation.READ, contact.access_record())
                or target not in contact.phones()
            ):
                return _say_and_hang_up(NOT_ALLOWED)
        if not _E164.match(target) or target == number.phone_number:
            return _say_and_hang_up(NOT_ALLOWED)
        return _dial_out(verified.base, number, user_id, target, contact_id, number.records_for([user_id]))

    # ---- VOIP-7: callbacks, acknowledged at once and queued ----

    def callback(self, request: WebhookRequest, kind: str) -> None:
        verified = self.verify(request)
        self._queue.send(
            {
                "kind": f"voip.{kind}",
                "tenant_id": verified.account.tenant_id,
                "received_at": iso(self._clock()),
                "query": {k: v for k, v in request.query.items() if k in CALLBACK_QUERY},
                "params": {k: v for k, v in request.params.items() if k in CALLBACK_FIELDS},
            }
        )


# ---- TwiML (twilio.twiml.voice_response; imported where used) ----


def _response() -> Any:
    from twilio.twiml.voice_response import VoiceResponse

    return VoiceResponse()


def _reject() -> str:
    twiml = _response()
    twiml.reject()
    return str(twiml)


def _hang_up() -> str:
    twiml = _response()
    twiml.hangup()
    return str(twiml)


def _say_and_hang_up(text: str) -> str:
    twiml = _response()
    twiml.say(text)
    twiml.hangup()
    return str(twiml)


def _voicemail(base: str, number: VoipNumber) -> str:
    twiml = _response()
    if number.greeting:
        twiml.say(number.greeting)
    twiml.say(f"{NOBODY} {LEAVE_MESSAGE}")
    twiml.record(
        max_length=VOICEMAIL_SECONDS,
        play_beep=True,
        # Without an action Twilio would post the message to this same voice URL.
        action=callback_url(base, "voice", after="voicemail"),
        method="POST",
        recording_status_callback=callback_url(base, "recording", kind="voicemail", number=number.id),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    twiml.hangup()
    return str(twiml)


def _recording_options(base: str, number: VoipNumber, record: bool) -> dict[str, Any]:
    if not record:
        return {}
    return {
        "record": "record-from-answer-dual",
        "recording_status_callback": callback_url(base, "recording", kind="call", number=number.id),
        "recording_status_callback_method": "POST",
        "recording_status_callback_event": "completed",
    }


def _ring(
    base: str, number: VoipNumber, targets: list[tuple[str, dict[str, str]]], record: bool, contact_id: str | None
) -> str:
    twiml = _response()
    if number.greeting:
        twiml.say(number.greeting)
    dial = twiml.dial(
        timeout=number.ring_timeout,
        answer_on_bridge=True,
        action=callback_url(base, "voice", after="dial"),
        method="POST",
        **_recording_options(base, number, record),
    )
    for identity, params in targets:
        client = dial.client(
            status_callback=callback_url(base, "status", leg="client", number=number.id, contact=contact_id),
            status_callback_event="answered completed",
            status_callback_method="POST",
        )
        client.identity(identity)
        for name, value in params.items():
            client.parameter(name=name, value=value)
    return str(twiml)


def _dial_out(base: str, number: VoipNumber, user_id: str, target: str, contact_id: str | None, record: bool) -> str:
    twiml = _response()
    dial = twiml.dial(caller_id=number.phone_number, answer_on_bridge=True, **_recording_options(base, number, record))
    dial.number(
        target,
        status_callback=callback_url(base, "status", leg="number", number=number.id, op=user_id, contact=contact_id),
        status_callback_event="answered completed",
        status_callback_method="POST",
    )
    return str(twiml)
