"""Telephony through Twilio (VOIP-1..9): the account, numbers, operators and calls.

The auth token is a secret: it lives in the vault (Secrets Manager), the
account record holds only a reference to it and is never shown with it.
Numbers are E.164; a number's operators ring in their browsers (Twilio
Client, identity = the user id). A call is one record per Twilio call (the
parent CallSid), merged from Twilio's callbacks in any order (calls.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.shared.records import NotNull, Record, omittable

MAX_NUMBERS = 50
MAX_OPERATORS = 50
MAX_GREETING = 500
DEFAULT_RING_TIMEOUT = 20

AccountSid = Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$", description="Twilio account SID (AC...)")]
AuthToken = Annotated[
    str, Field(min_length=16, max_length=128, pattern=r"^[0-9A-Za-z]+$", description="Never returned by the API")
]
E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +493012345678")]
UserId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_-]+$")]
Greeting = Annotated[str, Field(min_length=1, max_length=MAX_GREETING)]
RingTimeout = Annotated[int, Field(ge=5, le=60, description="Seconds the operators' browsers ring")]

# Twilio Client identities are the user ids (letters, digits, underscore).
_IDENTITY = re.compile(r"^[0-9A-Za-z_-]{1,40}$")


def valid_identity(value: str) -> bool:
    return bool(_IDENTITY.match(value or ""))


@dataclass(frozen=True)
class TwilioCredentials:
    """What the vault holds for a tenant; repr never shows the secrets."""

    account_sid: str
    auth_token: str = field(repr=False)
    api_key_sid: str | None = None
    api_key_secret: str | None = field(default=None, repr=False)

    def as_secret(self) -> dict[str, str]:
        values = {"account_sid": self.account_sid, "auth_token": self.auth_token}
        if self.api_key_sid and self.api_key_secret:
            values.update(api_key_sid=self.api_key_sid, api_key_secret=self.api_key_secret)
        return values

    @classmethod
    def from_secret(cls, values: dict[str, str]) -> "TwilioCredentials":
        return cls(
            account_sid=values["account_sid"],
            auth_token=values["auth_token"],
            api_key_sid=values.get("api_key_sid"),
            api_key_secret=values.get("api_key_secret"),
        )


# ---- the account (VOIP-1) ----


class VoipAccount(Record):
    tenant_id: str
    account_sid: str
    # Where the vault keeps the token (a Secrets Manager ARN); never the token.
    secret_ref: str
    # Bumped whenever the secret changes: containers cache credentials by it.
    secret_version: int = 1
    # The unguessable part of the webhook URLs (/twilio/<tenant>.<key>/...).
    webhook_key: str
    # The TwiML app browsers call out through, and the API key that signs
    # access tokens (its secret is in the vault too): made by the account test.
    twiml_app_sid: str | None = None
    api_key_sid: str | None = None
    verified_at: datetime | None = None
    delete_recordings_from_twilio: bool = False


class AccountIn(BaseModel):
    """PUT /v1/voip/account: the token may be left out to keep the stored one
    (same account SID)."""

    model_config = ConfigDict(extra="forbid")

    account_sid: AccountSid
    auth_token: AuthToken | None = None
    delete_recordings_from_twilio: bool = Field(
        default=False, description="Delete each recording from Twilio once it is copied to the CRM"
    )


class AccountTest(BaseModel):
    ok: bool
    detail: str
    twiml_app_sid: str | None = None


# ---- numbers (VOIP-2, 3) ----


class NumberKind(StrEnum):
    LOCAL = "local"
    MOBILE = "mobile"
    TOLL_FREE = "toll_free"


class AvailableQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$", description="ISO 3166 country code")
    type: NumberKind = NumberKind.LOCAL
    contains: str | None = Field(default=None, pattern=r"^[0-9*]{1,16}$", description="Digits the number contains")

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class AvailableNumber(BaseModel):
    phone_number: str
    friendly_name: str | None = None
    locality: str | None = None
    region: str | None = None
    iso_country: str | None = None
    voice: bool = True


@dataclass(frozen=True)
class OwnedNumber:
    """A number of the Twilio account (IncomingPhoneNumber)."""

    sid: str
    phone_number: str
    friendly_name: str | None = None


@dataclass(frozen=True)
class NumberHooks:
    """Where Twilio calls us for a number's calls."""

    voice_url: str
    status_url: str


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    outgoing: bool = Field(default=True, description="May call out through this number")
    recording: bool = Field(default=True, description="Calls this operator takes are recorded when the number records")


class NumberSource(StrEnum):
    BOUGHT = "bought"
    LINKED = "linked"


class _NumberFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: Annotated[str, Field(max_length=100)] | None = None
    outgoing: Annotated[bool, NotNull] = omittable(description="Outgoing calls through this number (default on)")
    recording: Annotated[bool, NotNull] = omittable(description="Record calls (default off)")
    greeting: Greeting | None = Field(default=None, description="Said to callers before the operators ring")
    ring_timeout: Annotated[RingTimeout, NotNull] = omittable(description="Default 20 s")
    voicemail: Annotated[bool, NotNull] = omittable(description="Callers may leave a message when nobody answers")
    operators: Annotated[list[Operator], NotNull, Field(max_length=MAX_OPERATORS)] = omittable(
        description="Users who answer this number"
    )

    @field_validator("operators")
    @classmethod
    def _distinct(cls, operators: list[Operator] | None) -> list[Operator] | None:
        if operators is not None and len({o.user_id for o in operators}) != len(operators):
            raise ValueError("an operator is listed twice")
        return operators


class NewNumber(_NumberFields):
    phone_number: E164
    mode: Literal["buy", "link"] = Field(description="buy: from the numbers Twilio offers; link: one the account has")


class NumberChanges(_NumberFields):
    """PATCH: only the fields sent change; alias/greeting null clears them."""


class VoipNumber(Record):
    tenant_id: str
    phone_number: str
    twilio_sid: str
    source: NumberSource
    alias: str | None = None
    outgoing: bool = True
    recording: bool = False
    greeting: str | None = None
    ring_timeout: int = DEFAULT_RING_TIMEOUT
    voicemail: bool = True
    operators: list[Operator] = Field(default_factory=list)

    def operator(self, user_id: str) -> Operator | None:
        return next((o for o in self.operators if o.user_id == user_id), None)

    def may_call_out(self, user_id: str) -> bool:
        found = self.operator(user_id)
        return self.outgoing and found is not None and found.outgoing

    def records_for(self, user_ids: list[str]) -> bool:
        """Recorded only when the number records and every operator who may
        take the call agreed: nobody who switched recording off is recorded."""
        operators = [self.operator(u) for u in user_ids]
        return self.recording and bool(operators) and all(o is not None and o.recording for o in operators)


# ---- operators (VOIP-4) ----


class PresenceStatus(StrEnum):
    ONLINE = "online"
    PAUSED = "paused"
    OFFLINE = "offline"


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PresenceStatus


class Presence(BaseModel):
    user_id: str
    status: PresenceStatus
    updated_at: datetime


class VoiceToken(BaseModel):
    token: str
    identity: str
    expires_in: int


# ---- calls (VOIP-7, 8) ----


class CallDirection(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class CallStatus(StrEnum):
    RINGING = "ringing"  # not over yet
    ANSWERED = "answered"
    MISSED = "missed"  # over without a conversation (incoming: nobody answered; outgoing: the other side did not)


class Recording(BaseModel):
    sid: str
    key: str
    content_type: str
    duration: int = 0
    voicemail: bool = False
    deleted_from_twilio: bool = False


class Call(Record):
    tenant_id: str
    call_sid: str
    direction: CallDirection | None = None
    status: CallStatus = CallStatus.RINGING
    # The other side (E.164) and our number.
    external_number: str | None = None
    our_number: str | None = None
    number_id: str | None = None
    contact_id: str | None = None
    # Who took (incoming) or placed (outgoing) the call; participants: every
    # operator rung, answering or calling (who sees the call in the log).
    operator_id: str | None = None
    participants: list[str] = Field(default_factory=list)
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: int = 0  # seconds of conversation (0 when missed)
    price: str | None = None  # decimal string, what Twilio charged (positive)
    price_unit: str | None = None
    recording: Recording | None = None
    # Bookkeeping of the merge (calls.py): the highest status rank seen per
    # leg (the parent call is "parent"), so a repeated or older callback
    # changes nothing.
    legs: dict[str, int] = Field(default_factory=dict)
    answered_leg: str | None = None
    final: bool = False
    settle_queued: bool = False
    history_event_id: str | None = None
    history_text: str | None = None
    contact_claim: str | None = None
    price_attempts: int = 0

    def participant_set(self) -> frozenset[str]:
        return frozenset(self.participants) | ({self.operator_id} if self.operator_id else frozenset())


class CallQuery(BaseModel):
    """GET /v1/voip/calls filters; ``from``/``to`` bound the start time (inclusive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    direction: CallDirection | None = None
    status: CallStatus | None = Field(default=None, description="missed: the missed calls")
    operator_id: str | None = Field(default=None, max_length=40)
    contact_id: str | None = Field(default=None, max_length=40)
    started_from: AwareDatetime | None = Field(default=None, alias="from", description="ISO 8601 with offset")
    started_to: AwareDatetime | None = Field(default=None, alias="to")

    @field_validator("started_from", "started_to", mode="before")
    @classmethod
    def _plus_sign(cls, value: Any) -> Any:
        # An unencoded "+01:00" in a query string arrives as " 01:00".
        return re.sub(r" (\d\d:?\d\d)$", r"+\1", value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ordered(self) -> "CallQuery":
        if self.started_from and self.started_to and self.started_from > self.started_to:
            raise ValueError("from must not be after to")
        return self

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)
