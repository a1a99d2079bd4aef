"""The local stack's Twilio (infra/local/twilio_fake.py): the fake REST API on
loopback, reached through the twilio library's real HTTP transport; only the
fake's accounts go there."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain.voip.models import NumberHooks, NumberKind, TwilioCredentials
from chalicelib.domain.voip.service import InvalidCredentials
from chalicelib.storage.twilio import is_fake_account, telephony_for
from infra.local.twilio_fake import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, DEMO_OWNED_NUMBER, build, serve


@pytest.fixture
def fake_url(tmp_path: Any) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve(build(tmp_path), "127.0.0.1", port, tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_the_library_talks_to_the_loopback_fake(fake_url: str, tmp_path: Any) -> None:
    creds = TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
    telephony = telephony_for(creds, fake_url=fake_url)
    assert telephony.verify(creds) == "Fake Twilio account"
    offer = telephony.available_numbers(creds, "DE", NumberKind.MOBILE, None, 3)
    assert len(offer) == 3 and offer[0].phone_number.startswith("+49151")
    hooks = NumberHooks("https://crm.example/twilio/x/voice", "https://crm.example/twilio/x/status")
    bought = telephony.buy_number(creds, offer[0].phone_number, hooks)
    assert bought.sid.startswith("PN")
    assert telephony.find_number(creds, DEMO_OWNED_NUMBER) is not None
    data, content_type = telephony.recording_media(creds, "RE" + "1" * 32)
    assert data.startswith(b"ID3") and content_type == "audio/mpeg"
    telephony.delete_recording(creds, "RE" + "1" * 32)
    telephony.delete_recording(creds, "RE" + "1" * 32)  # gone already: no error
    assert telephony.call_price(creds, "CA" + "2" * 32) == ("-0.01300", "USD")
    # Restarted, it still knows what was bought.
    assert build(tmp_path).number(offer[0].phone_number) is not None
    with pytest.raises(InvalidCredentials):
        telephony.verify(TwilioCredentials(DEMO_ACCOUNT_SID, "wrong" * 6))


def test_only_the_fakes_accounts_go_to_the_fake(fake_url: str) -> None:
    assert is_fake_account(DEMO_ACCOUNT_SID)
    real = TwilioCredentials("AC" + "5" * 32, "x" * 32)
    assert not is_fake_account(real.account_sid)
    assert telephony_for(real, fake_url=fake_url)._http._base_url is None
    assert telephony_for(TwilioCredentials(DEMO_ACCOUNT_SID, "t"), fake_url=fake_url)._http._base_url == fake_url


def test_refused_credentials_on_a_list_are_invalid_credentials_not_a_crash(fake_url: str) -> None:
    # Issue 19, fuzzing: a list (a page fetch) raises twilio's base exception, which was a 500.
    wrong = TwilioCredentials(DEMO_ACCOUNT_SID, "wrong" * 6)
    with pytest.raises(InvalidCredentials):
        telephony_for(wrong, fake_url=fake_url).available_numbers(wrong, "DE", NumberKind.LOCAL, "0", 3)
