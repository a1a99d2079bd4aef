"""The pydantic models of the voip API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from chalicelib.bootstrap import container
from chalicelib.domain.shared.model import Model
from chalicelib.domain.voip.models import (
    Call,
    Operator,
    VoipAccount,
    VoipNumber,
)
from chalicelib.handlers.identity.views import RecordView


class AccountView(RecordView):
    account_sid: str
    auth_token_set: bool = True  # the token itself is never answered
    webhook_base_url: str | None
    twiml_app_sid: str | None
    verified_at: datetime | None
    delete_recordings_from_twilio: bool

    @classmethod
    def of(cls, account: VoipAccount) -> "AccountView":
        return cls(
            **account.model_dump(include=set(RecordView.model_fields) | {"account_sid", "twiml_app_sid"}),
            verified_at=account.verified_at,
            delete_recordings_from_twilio=account.delete_recordings_from_twilio,
            webhook_base_url=container().voip.webhook_base_url(account),
        )


class NumberView(RecordView):
    phone_number: str
    twilio_sid: str
    source: str
    alias: str | None
    outgoing: bool
    recording: bool
    greeting: str | None
    ring_timeout: int
    voicemail: bool
    operators: list[Operator]

    @classmethod
    def of(cls, number: VoipNumber) -> "NumberView":
        return cls(**number.model_dump(exclude={"tenant_id"}))


class RemoveQuery(Model):
    model_config = ConfigDict(extra="forbid")

    release: bool | None = None


class RecordingView(Model):
    duration: int
    voicemail: bool
    content_type: str
    url: str


class CallView(RecordView):
    call_sid: str
    direction: str | None
    status: str
    external_number: str | None
    our_number: str | None
    number_id: str | None
    contact_id: str | None
    operator_id: str | None
    participants: list[str]
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration: int
    price: str | None
    price_unit: str | None
    recording: RecordingView | None

    @classmethod
    def of(cls, call: Call) -> "CallView":
        recording = call.recording
        return cls(
            **call.model_dump(include=set(cls.model_fields) - {"recording"}),
            recording=RecordingView(
                duration=recording.duration,
                voicemail=recording.voicemail,
                content_type=recording.content_type,
                url=f"/v1/voip/calls/{call.id}/recording",
            )
            if recording
            else None,
        )
